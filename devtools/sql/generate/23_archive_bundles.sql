-- Dify 1.16's archive index: the first tenant's runs of the oldest month were bundled by Dify's
-- archiver, whose own deletion step has not run yet.
INSERT INTO workflow_run_archive_bundles (id, tenant_id, year, month, shard, bundle_id, workflow_run_count, row_count,
    archive_bytes, archived_at, created_at, updated_at)
SELECT pg_temp.u('bundle:' || r.tenant_id || ':' || m), r.tenant_id, extract(year FROM m)::int, extract(month FROM m)::int, '0',
       md5('bundle:' || r.tenant_id || ':' || m), count(*), count(*) * 18, count(*) * 4096, %(anchor)s, %(anchor)s, %(anchor)s
FROM workflow_runs AS r, LATERAL (SELECT date_trunc('month', r.created_at) AS m) AS mm
WHERE r.tenant_id = (%(tenant_ids)s::uuid[])[1]
  AND date_trunc('month', r.created_at) = (SELECT date_trunc('month', min(created_at)) FROM workflow_runs WHERE tenant_id = (%(tenant_ids)s::uuid[])[1])
GROUP BY r.tenant_id, m
