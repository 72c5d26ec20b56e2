-- Stored objects no row names: not an upload's or a tool file's key, not a paused workflow's
-- state, not a live dataset's keyword file, and older than the grace period. (Protected keys
-- never reach dm_listed_keys.)
INSERT INTO dify_maintenance.file_candidates (run_key, kind, file_id, key, size, created_at, object_size, object_modified)
SELECT %(run_key)s, 'object', NULL, l.key, l.size, NULL, l.size, l.modified
FROM dm_listed_keys AS l
WHERE l.modified < %(object_cutoff)s
{% if created_before %}
  AND l.modified < %(created_before)s
{% endif %}
  AND NOT EXISTS (SELECT 1 FROM upload_files AS u WHERE u.key = l.key)
{% if has_tool_files %}
  AND NOT EXISTS (SELECT 1 FROM tool_files AS t WHERE t.file_key = l.key)
{% endif %}
{% if has_pauses %}
  AND NOT EXISTS (SELECT 1 FROM workflow_pauses AS p WHERE p.state_object_key = l.key)
{% endif %}
{% if has_datasets %}
  AND NOT EXISTS (SELECT 1 FROM datasets AS d WHERE l.key = 'keyword_files/' || d.tenant_id || '/' || d.id || '.txt')
{% endif %}
