-- Files kept in an agent's drive (Dify 1.15+): an upload of its own per tenant and app in ten,
-- which only the drive names (the orphaned-files scan must count it as in use).
WITH up AS (
    INSERT INTO upload_files (id, tenant_id, storage_type, key, name, size, extension, mime_type, created_by, created_at, used, created_by_role)
    SELECT pg_temp.u(a.id::text || ':drive-upload'), a.tenant_id, 'opendal',
           'upload_files/' || a.tenant_id || '/' || pg_temp.u(a.id::text || ':drive-key') || '.md', 'skill.md', 2048, 'md',
           'text/markdown', pg_temp.u(%(seed)s || ':account:1'), %(anchor)s - interval '100 days', true, 'account'
    FROM apps AS a WHERE a.tenant_id = ANY(%(tenant_ids)s) AND pg_temp.h(a.id::text || 'drive') %% 10 < 3
    RETURNING id, tenant_id, created_at
)
INSERT INTO agent_drive_files (id, tenant_id, agent_id, key, file_kind, file_id, value_owned_by_drive, created_at, updated_at, is_skill)
SELECT pg_temp.u(u.id::text || ':drive'), u.tenant_id, pg_temp.u(u.tenant_id::text || ':agent'), 'skills/' || u.id || '.md',
       'upload_file', u.id, true, u.created_at, u.created_at, false
FROM up AS u
