{% from "logstore/_scope.sql" import scope %}
-- The bytes of offloaded payloads a migration reads from Dify's storage and inlines.
SELECT coalesce(sum(f.size), 0)::bigint AS bytes, count(*) AS files
FROM workflow_node_execution_offload AS o
JOIN upload_files AS f ON f.id = o.file_id
WHERE o.node_execution_id IN (SELECT id FROM workflow_node_executions WHERE {{ scope(tenants) }})
