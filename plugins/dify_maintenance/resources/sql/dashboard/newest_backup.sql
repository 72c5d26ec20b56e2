-- The newest backup that verified (dify_backup records each run in the history).
SELECT recorded_at, report
FROM dify_maintenance.history
WHERE dag_id = 'dify_backup' AND (report ->> 'verified')::boolean
ORDER BY recorded_at DESC, id DESC
LIMIT 1
