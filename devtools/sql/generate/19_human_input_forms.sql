-- Human-input forms (Dify 1.13+) of one run in nine, with their deliveries and recipients, and on
-- 1.15+ the upload tokens and uploaded files of each; 1.15+ also forms of Agent-App chats, which
-- belong to a conversation and have no run.
WITH forms AS (
    INSERT INTO human_input_forms (id, created_at, updated_at, tenant_id, app_id, workflow_run_id, form_kind, node_id,
        form_definition, rendered_content, status, expiration_time{% if has("human_input_forms", "conversation_id") %}, conversation_id{% endif %})
    SELECT pg_temp.u(r.id::text || ':form'), r.created_at, r.created_at, r.tenant_id, r.app_id, r.id, 'runtime', 'node-4',
           '{}', 'Approve?', 'submitted', r.created_at + interval '1 day'{% if has("human_input_forms", "conversation_id") %}, NULL{% endif %}
    FROM workflow_runs AS r WHERE r.tenant_id = ANY(%(tenant_ids)s) AND pg_temp.h(r.id::text || 'form') %% 9 = 0
{% if has("human_input_forms", "conversation_id") %}
    UNION ALL
    SELECT pg_temp.u(c.id::text || ':form'), c.created_at, c.created_at, a.tenant_id, c.app_id, NULL, 'runtime', 'agent',
           '{}', 'Confirm?', 'submitted', c.created_at + interval '1 day', c.id
    FROM conversations AS c JOIN apps AS a ON a.id = c.app_id
    WHERE a.tenant_id = ANY(%(tenant_ids)s) AND pg_temp.h(c.id::text || 'form') %% 7 = 0
{% endif %}
    RETURNING id, created_at, tenant_id, app_id
), deliveries AS (
    INSERT INTO human_input_form_deliveries (id, created_at, updated_at, form_id, delivery_method_type, channel_payload)
    SELECT pg_temp.u(f.id::text || ':delivery'), f.created_at, f.created_at, f.id, 'webapp', '{}' FROM forms AS f
    RETURNING id, form_id, created_at
), recipients AS (
    INSERT INTO human_input_form_recipients (id, created_at, updated_at, form_id, delivery_id, recipient_type, recipient_payload, access_token)
    SELECT pg_temp.u(d.id::text || ':recipient'), d.created_at, d.created_at, d.form_id, d.id, 'standalone_web_app', '{}', md5(d.id::text)
    FROM deliveries AS d
    RETURNING id, form_id, created_at
){% if has_table("human_input_form_upload_tokens") %}, tokens AS (
    INSERT INTO human_input_form_upload_tokens (id, created_at, updated_at, tenant_id, app_id, form_id, recipient_id, token)
    SELECT pg_temp.u(rc.id::text || ':token'), rc.created_at, rc.created_at, f.tenant_id, f.app_id, rc.form_id, rc.id, md5(rc.id::text || 't')
    FROM recipients AS rc JOIN forms AS f ON f.id = rc.form_id
    RETURNING id, form_id, created_at, tenant_id, app_id
)
INSERT INTO human_input_form_upload_files (id, created_at, updated_at, tenant_id, app_id, form_id, upload_file_id, upload_token_id)
SELECT pg_temp.u(t.id::text || ':upload'), t.created_at, t.created_at, t.tenant_id, t.app_id, t.form_id, pg_temp.u(t.id::text || ':file'), t.id
FROM tokens AS t
{% else %}
SELECT count(*) FROM recipients
{% endif %}
