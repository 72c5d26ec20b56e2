-- A validation's verdict, with what it checked (the cluster's UUID and product, the prefix and
-- layout) and the database's time of the check: cleanup-pg's gate takes the newest by that time.
INSERT INTO dify_maintenance.log_validations
    (run_key, cluster, cluster_uuid, product, readable_by_dify, index_prefix, layout, data_types, tenants,
     window_start, window_end, passed, validated_at, summary)
VALUES (%(run_key)s, %(cluster)s, %(cluster_uuid)s, %(product)s, %(readable_by_dify)s, %(prefix)s, %(layout)s,
        %(data_types)s, %(tenants)s, %(window_start)s, %(window_end)s, %(passed)s, clock_timestamp(), %(summary)s)
RETURNING id, validated_at
