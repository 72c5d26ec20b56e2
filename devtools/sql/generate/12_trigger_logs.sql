INSERT INTO workflow_trigger_logs (id, tenant_id, app_id, workflow_id, workflow_run_id, trigger_metadata, trigger_type, trigger_data,
    inputs, status, queue_name, retry_count, created_at, created_by_role, created_by, triggered_at, finished_at)
SELECT pg_temp.u(r.id::text || ':trigger'), r.tenant_id, r.app_id, r.workflow_id, r.id, '{}', r.triggered_from, '{}', '{}',
       CASE WHEN r.status IN ('running', 'paused') THEN 'running' ELSE 'succeeded' END, 'workflow', 0,
       r.created_at, r.created_by_role, r.created_by::text, r.created_at, r.finished_at
FROM workflow_runs AS r WHERE r.tenant_id = ANY(%(tenant_ids)s) AND r.triggered_from IN ('webhook', 'schedule')
