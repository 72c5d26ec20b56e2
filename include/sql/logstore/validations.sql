-- Validations, newest first (cleanup-pg's gate takes the newest that covers its request).
SELECT id, run_key, cluster, index_prefix, layout, data_types, tenants, window_start, window_end, passed, validated_at, summary
FROM dify_maintenance.log_validations
ORDER BY validated_at DESC, id DESC
LIMIT %(limit)s
