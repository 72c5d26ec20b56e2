-- When the runs of some DAGs ended, and how (the marks on the growth curve).
SELECT recorded_at, dag_id, outcome, coalesce((report ->> 'total_deleted')::bigint, 0) AS deleted
FROM dify_maintenance.history
WHERE dag_id = ANY(%(dag_ids)s) AND recorded_at >= %(since)s
ORDER BY recorded_at
