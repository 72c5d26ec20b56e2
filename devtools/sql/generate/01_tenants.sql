INSERT INTO tenants (id, name, plan, status, created_at, updated_at)
SELECT pg_temp.u(%(seed)s || ':tenant:' || i), 'Tenant ' || i, 'basic', 'normal',
       %(anchor)s - interval '500 days', %(anchor)s - interval '500 days'
FROM generate_series(1, %(tenants)s) AS i
