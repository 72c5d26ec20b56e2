WITH cv AS (
    SELECT c.id, c.app_id, c.mode, c.created_at, c.updated_at, c.from_end_user_id, pg_temp.h(c.id::text) AS h, a.tenant_id
    FROM conversations AS c JOIN apps AS a ON a.id = c.app_id WHERE a.tenant_id = ANY(%(tenant_ids)s)
), pins AS (
    INSERT INTO pinned_conversations (id, app_id, conversation_id, created_by, created_at, created_by_role)
    SELECT pg_temp.u(cv.id::text || ':pin'), cv.app_id, cv.id, cv.from_end_user_id, cv.created_at, 'end_user'
    FROM cv WHERE cv.h %% 20 = 0 AND cv.from_end_user_id IS NOT NULL RETURNING 1
), tool_vars AS (
    INSERT INTO tool_conversation_variables (id, user_id, tenant_id, conversation_id, variables_str, created_at, updated_at)
    SELECT pg_temp.u(cv.id::text || ':toolvar'), coalesce(cv.from_end_user_id, cv.id), cv.tenant_id, cv.id, '[]', cv.created_at, cv.updated_at
    FROM cv WHERE cv.mode = 'agent-chat' RETURNING 1
)
-- Conversation variables share their id across conversations (the workflow's variable id).
INSERT INTO workflow_conversation_variables (id, conversation_id, app_id, data, created_at, updated_at)
SELECT pg_temp.u(cv.app_id::text || ':var:' || v), cv.id, cv.app_id, '{"value": "' || v || '"}', cv.created_at, cv.updated_at
FROM cv CROSS JOIN generate_series(1, 2) AS v WHERE cv.mode = 'advanced-chat'
