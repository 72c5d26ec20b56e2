-- The newest successful real run of each DAG (what the last purge did when the newest run was
-- deferred or failed).
SELECT DISTINCT ON (dag_id) id, run_key, dag_id, recorded_at, outcome, report
FROM dify_maintenance.history
WHERE outcome = 'success' AND NOT coalesce((report ->> 'dry_run')::boolean, false)
ORDER BY dag_id, recorded_at DESC, id DESC
