{% from "logstore/_scope.sql" import scope %}
-- What a migration will move, per month (the unit of a mapped migrate task): rows, their size
-- in PostgreSQL, and the tenants they belong to.
SELECT date_trunc('month', created_at) AS month,
       count(*) AS rows,
       sum(pg_column_size(t.*))::bigint AS bytes,
       count(DISTINCT tenant_id) AS tenants
FROM {{ table|ident }} AS t
WHERE {{ scope(tenants) }}
GROUP BY 1
ORDER BY 1
