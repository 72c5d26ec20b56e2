INSERT INTO messages (id, app_id, conversation_id, inputs, query, message, message_tokens, message_unit_price, answer, answer_tokens,
    answer_unit_price, currency, from_source, from_end_user_id, from_account_id, created_at, updated_at, agent_based,
    {% if has("messages", "app_mode") %}app_mode, {% endif %}{% if has("messages", "parent_message_id") %}parent_message_id, {% endif %}status, invoke_from)
SELECT pg_temp.u(%(seed)s || ':msg:' || cv.id || ':' || j), cv.app_id, cv.id, '{}', 'Question ' || j,
       json_build_array(json_build_object('role', 'user', 'text', 'Question ' || j)), 40, 0.001,
       pg_temp.payload(cv.id::text || 'ans' || j, 300 + (j * 97) %% 2500), 200, 0.002, 'USD', cv.from_source, cv.from_end_user_id,
       cv.from_account_id, at, at, cv.mode = 'agent-chat',
       {% if has("messages", "app_mode") %}cv.mode, {% endif %}
       {% if has("messages", "parent_message_id") %}CASE WHEN j > 1 THEN pg_temp.u(%(seed)s || ':msg:' || cv.id || ':' || (j - 1)) END, {% endif %}
       'normal', 'web-app'
FROM conversations AS cv
CROSS JOIN LATERAL generate_series(1, cv.dialogue_count) AS j
CROSS JOIN LATERAL (SELECT least(cv.created_at + make_interval(days => ((j - 1) * (1 + pg_temp.h('cg' || %(seed)s || substr(cv.name, 14)) %% 4))::int),
                                 %(anchor)s - interval '1 minute') AS at) AS t
WHERE cv.app_id IN (SELECT id FROM apps WHERE tenant_id = ANY(%(tenant_ids)s)) AND cv.mode <> 'advanced-chat'
ORDER BY t.at
