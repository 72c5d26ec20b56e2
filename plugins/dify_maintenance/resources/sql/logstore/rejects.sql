-- The documents of a stream that are not in the cluster, with why (first ones, and how many).
SELECT doc_id, index_name, reason, count(*) OVER () AS total
FROM dify_maintenance.log_migration_rejects
WHERE stream_key = %(stream_key)s
ORDER BY at, doc_id
LIMIT %(limit)s
