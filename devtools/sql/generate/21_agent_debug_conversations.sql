-- Console debug pointers of agents (Dify 1.15+): an old conversation they name must stay.
INSERT INTO agent_debug_conversations (id, tenant_id, agent_id, app_id, account_id, conversation_id, created_at, updated_at)
SELECT pg_temp.u(c.id::text || ':debug'), a.tenant_id, pg_temp.u(c.app_id::text || ':agent'), c.app_id,
       pg_temp.u(%(seed)s || ':account:1'), c.id, c.created_at, c.created_at
FROM conversations AS c JOIN apps AS a ON a.id = c.app_id
WHERE a.tenant_id = ANY(%(tenant_ids)s) AND c.from_source = 'console' AND pg_temp.h(c.id::text || 'debug') %% 3 = 0
