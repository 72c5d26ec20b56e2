-- A stream's checkpoint: where its last acknowledged bulk request ended.
SELECT stream_key, after_at, after_id, docs_created, docs_existing, docs_rejected, done, pass_xid, updated_at
FROM dify_maintenance.log_migration
WHERE stream_key = %(stream_key)s
