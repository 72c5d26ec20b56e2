INSERT INTO accounts (id, name, email, created_at, updated_at)
SELECT pg_temp.u(%(seed)s || ':account:' || i), 'Owner ' || i, 'owner' || i || '@example.test',
       %(anchor)s - interval '500 days', %(anchor)s - interval '500 days'
FROM generate_series(1, %(tenants)s) AS i
