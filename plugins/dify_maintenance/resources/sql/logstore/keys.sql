{% from "logstore/_scope.sql" import scope %}
-- The keys of a stream's rows up to its watermark, in (created_at, id) order, with whether each
-- was written since the stream's last pass began (its xmin at or after that pass's oldest
-- running transaction; without a pass, every row counts as changed). The pass looks each one up
-- in the cluster and rewrites the missing and the changed.
SELECT id::text AS id, tenant_id::text AS tenant_id, created_at,
{% if since %}
       age(xmin) <= age(%(since_xid)s::text::xid) AS changed
{% else %}
       true AS changed
{% endif %}
FROM {{ table|ident }}
WHERE {{ scope(tenants) }}
  AND (created_at, id) <= (%(upto_at)s, %(upto_id)s::uuid)
{% if after %}
  AND (created_at, id) > (%(after_at)s, %(after_id)s::uuid)
{% endif %}
ORDER BY created_at, id
LIMIT %(limit)s
