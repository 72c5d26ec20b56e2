-- About one in 33 node outputs were too large and live in storage, referenced through upload_files.
WITH picked AS (
    SELECT n.id, n.tenant_id, n.app_id, n.created_at, n.created_by
    FROM workflow_node_executions AS n
    WHERE n.tenant_id = ANY(%(tenant_ids)s) AND n.workflow_run_id IS NOT NULL AND pg_temp.h(n.id::text || 'off') %% 33 = 0
), files AS (
    INSERT INTO upload_files (id, tenant_id, storage_type, key, name, size, extension, mime_type, created_by, created_at, used, created_by_role)
    SELECT pg_temp.u(p.id::text || ':offfile'), p.tenant_id, 'opendal',
           'upload_files/' || p.tenant_id || '/' || pg_temp.u(p.id::text || ':offkey') || '.json',
           'node_execution_' || p.id || '_outputs.json', 2048 + (pg_temp.h(p.id::text) %% 8192)::int, 'json', 'application/json',
           p.created_by, p.created_at, true, 'end_user'
    FROM picked AS p
    RETURNING id
)
INSERT INTO workflow_node_execution_offload (id, created_at, tenant_id, app_id, node_execution_id, type, file_id)
SELECT pg_temp.u(p.id::text || ':offload'), p.created_at, p.tenant_id, p.app_id, p.id, 'outputs', pg_temp.u(p.id::text || ':offfile')
FROM picked AS p
