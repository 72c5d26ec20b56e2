-- Every stream's checkpoint for a cluster and prefix (status).
SELECT stream_key, data_type, month, tenants, layout, after_at, after_id, docs_created, docs_existing, docs_rejected, done, updated_at
FROM dify_maintenance.log_migration
WHERE cluster = %(cluster)s AND index_prefix = %(prefix)s
ORDER BY data_type, month
