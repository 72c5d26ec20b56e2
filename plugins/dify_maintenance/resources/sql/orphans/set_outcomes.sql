UPDATE dify_maintenance.file_candidates AS c
SET outcome = x.outcome
FROM unnest(%(ids)s::bigint[], %(outcomes)s::text[]) AS x (id, outcome)
WHERE c.id = x.id
