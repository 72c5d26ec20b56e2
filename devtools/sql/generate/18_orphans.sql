-- A few rows left behind by earlier partial cleanups: their parents no longer exist.
WITH nodes AS (
    INSERT INTO workflow_node_executions (id, tenant_id, app_id, workflow_id, triggered_from, workflow_run_id, index, node_id, node_type,
        title, status, elapsed_time, created_at, created_by_role, created_by)
    SELECT pg_temp.u(%(seed)s || ':orphan-node:' || i), pg_temp.u(%(seed)s || ':tenant:1'), pg_temp.u(%(seed)s || ':app:1:workflow'),
           pg_temp.u(%(seed)s || ':workflow:1:workflow:draft'), 'workflow-run', pg_temp.u(%(seed)s || ':ghost-run:' || i), 1, 'node-1',
           'llm', 'Orphan', 'succeeded', 1, %(anchor)s - make_interval(days => %(span_days)s - i), 'account', pg_temp.u(%(seed)s || ':account:1')
    FROM generate_series(1, 8) AS i RETURNING 1
), logs AS (
    INSERT INTO workflow_app_logs (id, tenant_id, app_id, workflow_id, workflow_run_id, created_from, created_by_role, created_by, created_at)
    SELECT pg_temp.u(%(seed)s || ':orphan-log:' || i), pg_temp.u(%(seed)s || ':tenant:1'), pg_temp.u(%(seed)s || ':app:1:workflow'),
           pg_temp.u(%(seed)s || ':workflow:1:workflow:draft'), pg_temp.u(%(seed)s || ':ghost-run:' || i), 'web-app', 'account',
           pg_temp.u(%(seed)s || ':account:1'), %(anchor)s - make_interval(days => %(span_days)s - i)
    FROM generate_series(1, 5) AS i RETURNING 1
){% if has_table("workflow_node_execution_offload") %}, offloads AS (
    INSERT INTO workflow_node_execution_offload (id, created_at, tenant_id, app_id, node_execution_id, type, file_id)
    SELECT pg_temp.u(%(seed)s || ':orphan-offload:' || i), %(anchor)s - make_interval(days => %(span_days)s - i),
           pg_temp.u(%(seed)s || ':tenant:1'), pg_temp.u(%(seed)s || ':app:1:workflow'), NULL, 'inputs', pg_temp.u(%(seed)s || ':ghost-file:' || i)
    FROM generate_series(1, 3) AS i RETURNING 1
){% endif %}
INSERT INTO message_feedbacks (id, app_id, conversation_id, message_id, rating, from_source, created_at, updated_at)
SELECT pg_temp.u(%(seed)s || ':orphan-fb:' || i), pg_temp.u(%(seed)s || ':app:1:chat'), pg_temp.u(%(seed)s || ':ghost-conv:' || i),
       pg_temp.u(%(seed)s || ':ghost-msg:' || i), 'like', 'user', %(anchor)s - make_interval(days => %(span_days)s - i),
       %(anchor)s - make_interval(days => %(span_days)s - i)
FROM generate_series(1, 6) AS i
