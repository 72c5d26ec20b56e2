{% from "logstore/_scope.sql" import scope %}
-- Rows per tenant and month in a window: what each index must hold (validation and status).
SELECT tenant_id::text AS tenant_id, date_trunc('month', created_at) AS month, count(*) AS rows
FROM {{ table|ident }}
WHERE {{ scope(tenants) }}
GROUP BY 1, 2
