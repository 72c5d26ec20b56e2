-- Validations of one cluster (by its UUID), prefix and layout, newest first by the database's
-- time of the check (cleanup-pg's gate takes the newest that covers its request).
SELECT id, run_key, cluster, cluster_uuid, product, readable_by_dify, index_prefix, layout, data_types, tenants,
       window_start, window_end, passed, validated_at, summary
FROM dify_maintenance.log_validations
WHERE cluster_uuid = %(cluster_uuid)s AND index_prefix = %(prefix)s AND layout = %(layout)s
ORDER BY validated_at DESC, id DESC
LIMIT %(limit)s
