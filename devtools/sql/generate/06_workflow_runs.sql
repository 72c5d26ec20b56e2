-- Runs of workflow and advanced-chat apps with Dify's status mix, old running and paused included.
INSERT INTO workflow_runs (id, tenant_id, app_id, {% if has("workflow_runs", "sequence_number") %}sequence_number, {% endif %}workflow_id, type,
    triggered_from, version, graph, inputs, status, outputs, error, elapsed_time, total_tokens, total_steps,
    created_by_role, created_by, created_at, finished_at)
SELECT pg_temp.u(%(seed)s || ':run:' || i), pg_temp.u(%(seed)s || ':tenant:' || tn), pg_temp.u(%(seed)s || ':app:' || tn || ':' || mode),
       {% if has("workflow_runs", "sequence_number") %}i, {% endif %}
       pg_temp.u(%(seed)s || ':workflow:' || tn || ':' || mode || ':' || CASE WHEN debug THEN 'draft' ELSE '2025-01-01 00:00:00.000000' END),
       CASE mode WHEN 'workflow' THEN 'workflow' ELSE 'chat' END,
       CASE WHEN debug THEN 'debugging' WHEN {{ "trig" if has_table("workflow_trigger_logs") else "false" }} THEN (ARRAY['webhook', 'schedule'])[1 + i %% 2] ELSE 'app-run' END,
       CASE WHEN debug THEN 'draft' ELSE '2025-01-01 00:00:00.000000' END,
       pg_temp.payload('g' || i, 2000 + r %% 4000), pg_temp.payload('i' || i, 200 + r %% 800), status,
       CASE WHEN status IN ('running', 'paused') THEN NULL ELSE pg_temp.payload('o' || i, 500 + r %% 3500) END,
       CASE WHEN status = 'failed' THEN 'node failed' END, (r %% 90000) / 1000.0, r %% 20000, 5 + r %% 26,
       CASE WHEN debug THEN 'account' ELSE 'end_user' END,
       CASE WHEN debug THEN pg_temp.u(%(seed)s || ':account:' || tn)
            ELSE pg_temp.u(%(seed)s || ':eu:' || (tn - 1 + %(tenants)s * (1 + r %% greatest(%(end_users)s / %(tenants)s - 1, 1)))) END,
       at, CASE WHEN status IN ('running', 'paused') THEN NULL ELSE at + make_interval(secs => (r %% 90000) / 1000.0) END
FROM (
    SELECT i, 1 + i %% %(tenants)s AS tn, CASE WHEN i %% 3 = 0 THEN 'advanced-chat' ELSE 'workflow' END AS mode,
           pg_temp.h('run' || %(seed)s || i) AS r, (pg_temp.h('dbg' || %(seed)s || i) %% 10 = 0) AS debug,
           (pg_temp.h('trg' || %(seed)s || i) %% 20 = 0 AND i %% 3 <> 0) AS trig,
           %(anchor)s - make_interval(secs => (pg_temp.h('at' || %(seed)s || i) %% (%(span_days)s * 86400))::double precision) AS at,
           CASE WHEN s < 850 THEN 'succeeded' WHEN s < 920 THEN 'failed' WHEN s < 950 THEN 'stopped'
                WHEN s < 970 THEN 'partial-succeeded' WHEN s < 985 THEN 'running' ELSE 'paused' END AS status
    FROM generate_series(1, %(runs)s) AS i
    CROSS JOIN LATERAL (SELECT pg_temp.h('st' || %(seed)s || i) %% 1000 AS s) AS st
) AS src
-- Written in time order, as a live Dify writes them: physical order follows created_at, and so do
-- the node executions generated from this table's heap order.
ORDER BY at
