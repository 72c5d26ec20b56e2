-- The writer's rows under old parents after the run: how many are gone (wrongly deleted), and how
-- many name a run that is gone (left dangling).
SELECT count(*) FILTER (WHERE n.id IS NULL) AS gone,
       count(*) FILTER (WHERE n.id IS NOT NULL AND NOT EXISTS (
           SELECT 1 FROM {{ "public"|ident }}.workflow_runs AS r WHERE r.id = n.workflow_run_id)) AS dangling
FROM unnest(%(ids)s::uuid[]) AS w(id)
LEFT JOIN {{ "public"|ident }}.workflow_node_executions AS n ON n.id = w.id
