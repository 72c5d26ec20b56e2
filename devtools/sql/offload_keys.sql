-- The storage keys of offloaded node payloads, with their node execution (not a numbered step).
SELECT o.node_execution_id::text AS node_execution_id, o.type, f.key
FROM workflow_node_execution_offload AS o
JOIN upload_files AS f ON f.id = o.file_id
ORDER BY f.key
