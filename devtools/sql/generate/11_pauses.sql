WITH paused AS (
    INSERT INTO workflow_pauses (id, workflow_id, workflow_run_id, state_object_key, created_at, updated_at)
    SELECT pg_temp.u(r.id::text || ':pause'), r.workflow_id, r.id, 'workflow-state-' || pg_temp.u(r.id::text || ':state') || '.json',
           r.created_at, r.created_at
    FROM workflow_runs AS r WHERE r.tenant_id = ANY(%(tenant_ids)s) AND r.status = 'paused'
    RETURNING id, created_at
)
INSERT INTO workflow_pause_reasons (id, created_at, updated_at, pause_id, type_, form_id, node_id, message)
SELECT pg_temp.u(p.id::text || ':reason'), p.created_at, p.created_at, p.id, 'human_input', md5(p.id::text), 'node-4', 'waiting for approval'
FROM paused AS p
