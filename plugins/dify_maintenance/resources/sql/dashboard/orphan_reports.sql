-- The orphaned-files runs' reports (quarantines made, emptied, and how long they are kept).
SELECT recorded_at, report
FROM dify_maintenance.history
WHERE dag_id = 'dify_orphaned_files' AND recorded_at >= %(since)s
ORDER BY recorded_at
