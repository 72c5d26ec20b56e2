-- A document the cluster refused (or whose offloaded payload could not be read): kept with its
-- reason so the report names it after any number of resumes.
INSERT INTO dify_maintenance.log_migration_rejects (stream_key, doc_id, index_name, reason)
VALUES (%(stream_key)s, %(doc_id)s, %(index_name)s, %(reason)s)
ON CONFLICT (stream_key, doc_id) DO UPDATE SET reason = EXCLUDED.reason, index_name = EXCLUDED.index_name, at = now()
