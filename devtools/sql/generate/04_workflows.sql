-- A draft and a published version for every workflow-based app.
INSERT INTO workflows (id, tenant_id, app_id, type, version, graph, features, created_by, created_at, updated_at)
SELECT pg_temp.u(%(seed)s || ':workflow:' || i || ':' || m.mode || ':' || v.version),
       pg_temp.u(%(seed)s || ':tenant:' || i), pg_temp.u(%(seed)s || ':app:' || i || ':' || m.mode),
       CASE m.mode WHEN 'workflow' THEN 'workflow' ELSE 'chat' END, v.version,
       pg_temp.payload('graph' || i || m.mode, 4000), '{}', pg_temp.u(%(seed)s || ':account:' || i),
       %(anchor)s - interval '440 days', %(anchor)s - interval '440 days'
FROM generate_series(1, %(tenants)s) AS i
CROSS JOIN unnest(ARRAY['workflow', 'advanced-chat']) AS m(mode)
CROSS JOIN unnest(ARRAY['draft', '2025-01-01 00:00:00.000000']) AS v(version)
