-- 5 to 30 node executions per run, created as the run progresses.
INSERT INTO workflow_node_executions (id, tenant_id, app_id, workflow_id, triggered_from, workflow_run_id, index,
    predecessor_node_id, node_id, node_type, title, inputs, process_data, outputs, status, error, elapsed_time,
    execution_metadata, created_at, created_by_role, created_by, finished_at, node_execution_id)
SELECT pg_temp.u(r.id::text || ':node:' || k), r.tenant_id, r.app_id, r.workflow_id, 'workflow-run', r.id, k,
       CASE WHEN k > 1 THEN 'node-' || (k - 1) END, 'node-' || k,
       (ARRAY['start', 'llm', 'code', 'http-request', 'if-else', 'tool', 'knowledge-retrieval', 'end'])[1 + k %% 8],
       'Step ' || k, pg_temp.payload(r.id::text || 'in' || k, 100 + (k * 137) %% 1500),
       CASE WHEN k %% 2 = 0 THEN pg_temp.payload(r.id::text || 'pd' || k, 200 + (k * 71) %% 800) END,
       pg_temp.payload(r.id::text || 'out' || k, 200 + (k * 211) %% 2500),
       CASE WHEN r.status IN ('running', 'paused') AND k = n THEN 'running' WHEN r.status = 'failed' AND k = n THEN 'failed' ELSE 'succeeded' END,
       NULL, k * 0.25, '{"total_tokens": 120}', r.created_at + make_interval(secs => k), r.created_by_role, r.created_by,
       r.created_at + make_interval(secs => k + 1), md5(r.id::text || k)
FROM workflow_runs AS r
CROSS JOIN LATERAL (SELECT 5 + (pg_temp.h(r.id::text) %% 26)::int AS n) AS cnt
CROSS JOIN LATERAL generate_series(1, cnt.n) AS k
WHERE r.tenant_id = ANY(%(tenant_ids)s)
  -- the rows are written by several sessions at once, each taking one shard of the runs
  AND pg_temp.h(r.id::text || ':shard') %% %(shards)s = %(shard)s
