-- One app of every mode per tenant.
INSERT INTO apps (id, tenant_id, name, mode, enable_site, enable_api, created_at, updated_at)
SELECT pg_temp.u(%(seed)s || ':app:' || i || ':' || m.mode), pg_temp.u(%(seed)s || ':tenant:' || i),
       m.mode || ' app ' || i, m.mode, true, true, %(anchor)s - interval '450 days', %(anchor)s - interval '450 days'
FROM generate_series(1, %(tenants)s) AS i
CROSS JOIN unnest(ARRAY['completion', 'workflow', 'chat', 'advanced-chat', 'agent-chat']) AS m(mode)
