-- A stream's pass is complete: rows changed after it began are what the next pass rewrites.
UPDATE dify_maintenance.log_migration
SET pass_xid = %(pass_xid)s, docs_refreshed = docs_refreshed + %(refreshed)s, updated_at = now()
WHERE stream_key = %(stream_key)s
