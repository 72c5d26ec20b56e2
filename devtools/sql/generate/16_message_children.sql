-- Every message child table. Feedback can arrive days after its message.
WITH m AS (
    SELECT ms.id, ms.app_id, ms.conversation_id, ms.created_at, ms.from_end_user_id, pg_temp.h(ms.id::text) AS h,
           {% if has("messages", "app_mode") %}ms.app_mode{% else %}NULL::varchar{% endif %} AS app_mode,
           coalesce(ms.from_end_user_id, ms.from_account_id) AS who, CASE WHEN ms.from_end_user_id IS NULL THEN 'account' ELSE 'end_user' END AS role
    FROM messages AS ms WHERE ms.app_id IN (SELECT id FROM apps WHERE tenant_id = ANY(%(tenant_ids)s))
), fb AS (
    INSERT INTO message_feedbacks (id, app_id, conversation_id, message_id, rating, from_source, from_end_user_id, created_at, updated_at)
    SELECT pg_temp.u(m.id::text || ':fb'), m.app_id, m.conversation_id, m.id, CASE WHEN m.h %% 3 = 0 THEN 'dislike' ELSE 'like' END,
           'user', m.from_end_user_id, least(m.created_at + make_interval(hours => (m.h %% 96)::int), %(anchor)s),
           least(m.created_at + make_interval(hours => (m.h %% 96)::int), %(anchor)s)
    FROM m WHERE m.h %% 10 = 0 RETURNING 1
), up AS (
    INSERT INTO upload_files (id, tenant_id, storage_type, key, name, size, extension, mime_type, created_by, created_at, used, created_by_role)
    SELECT pg_temp.u(m.id::text || ':upload'), a.tenant_id, 'opendal', 'upload_files/' || a.tenant_id || '/' || pg_temp.u(m.id::text || ':ukey') || '.png',
           'photo.png', 10000 + (m.h %% 50000)::int, 'png', 'image/png', m.who, m.created_at, true, m.role
    FROM m JOIN apps AS a ON a.id = m.app_id WHERE m.h %% 7 = 1 RETURNING id
), files AS (
    INSERT INTO message_files (id, message_id, type, transfer_method, upload_file_id, created_by_role, created_by, created_at, belongs_to)
    SELECT pg_temp.u(m.id::text || ':mf'), m.id, 'image', 'local_file', pg_temp.u(m.id::text || ':upload'), m.role, m.who, m.created_at, 'user'
    FROM m WHERE m.h %% 7 = 1 RETURNING 1
), chains AS (
    INSERT INTO message_chains (id, message_id, type, input, output, created_at)
    SELECT pg_temp.u(m.id::text || ':chain'), m.id, 'system', '{}', '{}', m.created_at
    FROM m WHERE m.app_mode = 'agent-chat' OR (m.app_mode IS NULL AND m.h %% 5 = 0) RETURNING 1
), thoughts AS (
    INSERT INTO message_agent_thoughts (id, message_id, message_chain_id, position, thought, tool, tool_input, observation,
        created_by_role, created_by, created_at)
    SELECT pg_temp.u(m.id::text || ':thought:' || p), m.id, pg_temp.u(m.id::text || ':chain'), p, pg_temp.payload(m.id::text || 'th' || p, 400),
           'web_search', '{"q": "x"}', pg_temp.payload(m.id::text || 'ob' || p, 900), m.role, m.who, m.created_at
    FROM m CROSS JOIN generate_series(1, 2) AS p WHERE m.app_mode = 'agent-chat' OR (m.app_mode IS NULL AND m.h %% 5 = 0) RETURNING 1
), resources AS (
    INSERT INTO dataset_retriever_resources (id, message_id, position, dataset_id, dataset_name, document_name, content,
        retriever_from, created_by, created_at)
    SELECT pg_temp.u(m.id::text || ':res:' || p), m.id, p, pg_temp.u('dataset' || m.app_id), 'Handbook', 'handbook.pdf',
           pg_temp.payload(m.id::text || 'rc' || p, 600), 'dev', m.who, m.created_at
    FROM m CROSS JOIN generate_series(1, 2) AS p WHERE m.h %% 5 = 2 RETURNING 1
), hits AS (
    INSERT INTO app_annotation_hit_histories (id, app_id, annotation_id, source, question, account_id, created_at, score, message_id,
        annotation_question, annotation_content)
    SELECT pg_temp.u(m.id::text || ':hit'), m.app_id, pg_temp.u(m.app_id::text || ':annotation'), 'api', 'Question', m.who, m.created_at, 0.9, m.id,
           'Question', 'Answer'
    FROM m WHERE m.h %% 33 = 3 RETURNING 1
), saved AS (
    INSERT INTO saved_messages (id, app_id, message_id, created_by, created_at, created_by_role)
    SELECT pg_temp.u(m.id::text || ':saved'), m.app_id, m.id, m.who, m.created_at, m.role FROM m WHERE m.h %% 50 = 4 RETURNING 1
)
INSERT INTO message_annotations (id, app_id, conversation_id, message_id, content, question, account_id, created_at, updated_at)
SELECT pg_temp.u(m.id::text || ':annotation'), m.app_id, m.conversation_id, m.id, 'Curated answer', 'Curated question',
       pg_temp.u(%(seed)s || ':account:1'), m.created_at, m.created_at
FROM m WHERE m.h %% 100 = 5
