-- A validation's verdict, the gate of cleanup-pg.
INSERT INTO dify_maintenance.log_validations
    (run_key, cluster, index_prefix, layout, data_types, tenants, window_start, window_end, passed, validated_at, summary)
VALUES (%(run_key)s, %(cluster)s, %(prefix)s, %(layout)s, %(data_types)s, %(tenants)s, %(window_start)s, %(window_end)s,
        %(passed)s, %(validated_at)s, %(summary)s)
RETURNING id, validated_at
