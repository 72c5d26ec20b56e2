-- Where the offloaded payloads of these node executions live (Dify 1.9+): the storage key of
-- each, found through the unique (node_execution_id, type) constraint. An offload whose
-- upload_files row is gone comes back with no key: its document is refused, never sent without
-- its payload.
SELECT o.node_execution_id::text AS node_execution_id, o.type, f.key, f.size
FROM workflow_node_execution_offload AS o
LEFT JOIN upload_files AS f ON f.id = o.file_id
WHERE o.node_execution_id = ANY(%(ids)s::uuid[])
