-- Written after each acknowledged bulk request (never before), so a killed run resumes from
-- the last bulk the cluster accepted and a rerun's create actions find the rest already there.
INSERT INTO dify_maintenance.log_migration AS m
    (stream_key, cluster, index_prefix, layout, data_type, month, tenants, after_at, after_id,
     docs_created, docs_existing, docs_rejected, done, updated_at)
VALUES (%(stream_key)s, %(cluster)s, %(prefix)s, %(layout)s, %(data_type)s, %(month)s, %(tenants)s, %(after_at)s, %(after_id)s,
        %(created)s, %(existing)s, %(rejected)s, %(done)s, now())
ON CONFLICT (stream_key) DO UPDATE
SET after_at = coalesce(EXCLUDED.after_at, m.after_at),
    after_id = coalesce(EXCLUDED.after_id, m.after_id),
    docs_created = m.docs_created + EXCLUDED.docs_created,
    docs_existing = m.docs_existing + EXCLUDED.docs_existing,
    docs_rejected = m.docs_rejected + EXCLUDED.docs_rejected,
    done = EXCLUDED.done,
    updated_at = now()
