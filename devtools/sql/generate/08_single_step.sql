-- Single-step debug executions: no run, aged on their own.
INSERT INTO workflow_node_executions (id, tenant_id, app_id, workflow_id, triggered_from, workflow_run_id, index,
    node_id, node_type, title, inputs, outputs, status, elapsed_time, created_at, created_by_role, created_by, finished_at)
SELECT pg_temp.u(%(seed)s || ':single:' || i), pg_temp.u(%(seed)s || ':tenant:' || tn), pg_temp.u(%(seed)s || ':app:' || tn || ':workflow'),
       pg_temp.u(%(seed)s || ':workflow:' || tn || ':workflow:draft'), 'single-step', NULL, 1, 'node-3', 'code', 'Debug step',
       pg_temp.payload('ssi' || i, 300), pg_temp.payload('sso' || i, 600),
       CASE WHEN i %% 40 = 0 THEN 'running' ELSE 'succeeded' END, 0.5, at, 'account', pg_temp.u(%(seed)s || ':account:' || tn), at
FROM generate_series(1, greatest(%(runs)s / 20, 5)) AS i
CROSS JOIN LATERAL (SELECT 1 + i %% %(tenants)s AS tn,
    %(anchor)s - make_interval(secs => (pg_temp.h('ss' || %(seed)s || i) %% (%(span_days)s * 86400))::double precision) AS at) AS x
