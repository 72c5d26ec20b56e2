-- End users; a third were created long before any retention window but stay active.
INSERT INTO end_users (id, tenant_id, app_id, type, session_id, is_anonymous, created_at, updated_at)
SELECT pg_temp.u(%(seed)s || ':eu:' || i), pg_temp.u(%(seed)s || ':tenant:' || (1 + i %% %(tenants)s)),
       pg_temp.u(%(seed)s || ':app:' || (1 + i %% %(tenants)s) || ':' ||
                 (ARRAY['completion', 'workflow', 'chat', 'advanced-chat', 'agent-chat'])[1 + (i / %(tenants)s) %% 5]),
       'browser', 'session-' || i, true, t.at, t.at
FROM generate_series(1, %(end_users)s) AS i
CROSS JOIN LATERAL (SELECT %(anchor)s - make_interval(secs => (pg_temp.h('eu' || %(seed)s || i) %% (%(span_days)s * 3 * 86400))::double precision) AS at) AS t
