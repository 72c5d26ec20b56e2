-- Agent runtime sessions (Dify 1.15-1.16): one run in eight and one conversation in six has one,
-- and a few sessions name a run that is gone (left by an earlier partial cleanup).
INSERT INTO agent_runtime_sessions (id, tenant_id, app_id, owner_type, agent_id, session_snapshot, composition_layer_specs,
    status, created_at, updated_at, workflow_id, workflow_run_id, node_id, node_execution_id, conversation_id)
SELECT pg_temp.u(r.id::text || ':session'), r.tenant_id, r.app_id, 'workflow_run', pg_temp.u(r.app_id::text || ':agent'), '{}', '[]',
       'cleaned', r.created_at, r.created_at, r.workflow_id, r.id, 'node-2', pg_temp.u(r.id::text || ':node-2')::text, NULL
FROM workflow_runs AS r WHERE r.tenant_id = ANY(%(tenant_ids)s) AND pg_temp.h(r.id::text || 'session') %% 8 = 0
UNION ALL
SELECT pg_temp.u(c.id::text || ':session'), a.tenant_id, c.app_id, 'conversation', pg_temp.u(c.app_id::text || ':agent'), '{}', '[]',
       'active', c.created_at, c.updated_at, NULL, NULL, NULL, NULL, c.id
FROM conversations AS c JOIN apps AS a ON a.id = c.app_id
WHERE a.tenant_id = ANY(%(tenant_ids)s) AND pg_temp.h(c.id::text || 'session') %% 6 = 0
UNION ALL
SELECT pg_temp.u('ghost-session:' || t || ':' || g), t, pg_temp.u('ghost-app:' || g), 'workflow_run', pg_temp.u('ghost-agent:' || g), '{}', '[]',
       'cleaned', %(anchor)s - interval '200 days', %(anchor)s - interval '200 days', NULL, pg_temp.u('ghost-run:' || t || ':' || g), 'node-1', NULL, NULL
FROM unnest(%(tenant_ids)s::uuid[]) AS t, generate_series(1, 3) AS g
