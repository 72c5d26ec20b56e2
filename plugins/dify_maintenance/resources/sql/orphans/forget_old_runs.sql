-- Candidate lists of runs finished long ago are history nobody reads; the report keeps the counts.
WITH payloads AS (
    DELETE FROM dify_maintenance.file_payloads AS p
    USING dify_maintenance.runs AS r
    WHERE r.run_key = p.run_key AND r.started_at < now() - make_interval(days => %(days)s)
)
DELETE FROM dify_maintenance.file_candidates AS c
USING dify_maintenance.runs AS r
WHERE r.run_key = c.run_key AND r.started_at < now() - make_interval(days => %(days)s)
