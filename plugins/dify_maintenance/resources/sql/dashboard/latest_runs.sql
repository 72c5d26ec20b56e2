-- The newest history row of each DAG.
SELECT DISTINCT ON (dag_id) id, run_key, dag_id, recorded_at, outcome, report
FROM dify_maintenance.history
ORDER BY dag_id, recorded_at DESC, id DESC
