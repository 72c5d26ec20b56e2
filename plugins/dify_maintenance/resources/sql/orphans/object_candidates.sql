{% import "orphans/_refs.sql" as r %}
-- Stored objects no row names as such (named_keys), older than the grace period. Whether some
-- text names their key is decided afterwards, with the file rows. (Protected keys never reach
-- dm_listed_keys.)
INSERT INTO dify_maintenance.file_candidates (run_key, kind, file_id, key, size, created_at, object_size, object_modified)
SELECT %(run_key)s, 'object', NULL, l.key, l.size, NULL, l.size, l.modified
FROM dm_listed_keys AS l
WHERE l.modified < %(object_cutoff)s
{% if created_before %}
  AND l.modified < %(created_before)s
{% endif %}
  AND NOT EXISTS (
      SELECT 1 FROM ({{ r.named_keys(has_tool_files, has_pauses, has_datasets, has_documents) }}) AS n WHERE n.key = l.key
  )
