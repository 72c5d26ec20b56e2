-- A recent ended run with node executions, to copy from.
SELECT r.id FROM {{ "public"|ident }}.workflow_runs AS r
WHERE r.status = 'succeeded' AND EXISTS (SELECT 1 FROM {{ "public"|ident }}.workflow_node_executions n WHERE n.workflow_run_id = r.id)
ORDER BY r.created_at DESC LIMIT 1
