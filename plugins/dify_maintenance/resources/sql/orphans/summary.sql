-- Per kind and reason: how many files and bytes were kept or are candidates, and what happened.
SELECT kind, coalesce(referenced_by, '') AS referenced_by, coalesce(outcome, '') AS outcome,
       count(*) AS files, coalesce(sum(coalesce(object_size, size, 0)), 0)::bigint AS bytes,
       count(*) FILTER (WHERE rows_deleted) AS rows_deleted
FROM dify_maintenance.file_candidates
WHERE run_key = %(run_key)s
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
