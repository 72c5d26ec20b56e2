INSERT INTO workflow_app_logs (id, tenant_id, app_id, workflow_id, workflow_run_id, created_from, created_by_role, created_by, created_at)
SELECT pg_temp.u(r.id::text || ':applog'), r.tenant_id, r.app_id, r.workflow_id, r.id,
       (ARRAY['service-api', 'web-app', 'installed-app'])[1 + pg_temp.h(r.id::text) %% 3], r.created_by_role, r.created_by,
       coalesce(r.finished_at, r.created_at)
FROM workflow_runs AS r
WHERE r.tenant_id = ANY(%(tenant_ids)s) AND r.type = 'workflow' AND r.triggered_from <> 'debugging'
