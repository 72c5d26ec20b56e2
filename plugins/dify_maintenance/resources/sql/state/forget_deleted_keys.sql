-- A finished run's record of deleted keys (verify has read it), and any left by runs that ended
-- without their report.
DELETE FROM dify_maintenance.deleted_keys
WHERE run_key = %(run_key)s
   OR run_key IN (SELECT run_key FROM dify_maintenance.runs WHERE finished_at IS NOT NULL)
