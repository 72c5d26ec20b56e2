-- Advanced-chat messages are produced by workflow runs; conversations follow from their messages.
WITH msgs AS (
    INSERT INTO messages (id, app_id, conversation_id, inputs, query, message, message_tokens, message_unit_price, answer,
        answer_tokens, answer_unit_price, currency, from_source, from_end_user_id, from_account_id, created_at, updated_at,
        {% if has("messages", "app_mode") %}app_mode, {% endif %}workflow_run_id, status, invoke_from)
    SELECT pg_temp.u(r.id::text || ':msg'), r.app_id,
           pg_temp.u(%(seed)s || ':acconv:' || r.tenant_id || ':' || (pg_temp.h(r.id::text || 'c') %% greatest(%(runs)s / 12, 2))),
           '{}', 'Ask', '[]', 30, 0.001, pg_temp.payload(r.id::text || 'ans', 800), 150, 0.002, 'USD',
           CASE WHEN r.created_by_role = 'end_user' THEN 'api' ELSE 'console' END,
           CASE WHEN r.created_by_role = 'end_user' THEN r.created_by END,
           CASE WHEN r.created_by_role = 'account' THEN r.created_by END, r.created_at, r.created_at,
           {% if has("messages", "app_mode") %}'advanced-chat', {% endif %}r.id, 'normal', 'web-app'
    FROM workflow_runs AS r WHERE r.tenant_id = ANY(%(tenant_ids)s) AND r.type = 'chat'
    RETURNING conversation_id, app_id, from_source, from_end_user_id, from_account_id, created_at
)
INSERT INTO conversations (id, app_id, mode, name, inputs, status, from_source, from_end_user_id, from_account_id,
    created_at, updated_at, invoke_from, dialogue_count)
SELECT conversation_id, min(app_id::text)::uuid, 'advanced-chat', 'Chatflow conversation', '{}', 'normal', min(from_source),
       (array_agg(from_end_user_id ORDER BY created_at))[1], (array_agg(from_account_id ORDER BY created_at))[1],
       min(created_at), max(created_at), 'web-app', count(*)
FROM msgs GROUP BY conversation_id
