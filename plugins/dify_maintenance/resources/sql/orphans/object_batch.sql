{% import "orphans/_refs.sql" as r %}
-- Of these candidates, the ones whose object may move to quarantine (unreferenced, their rows
-- gone or never there), and whether a live row names the key as such now (then it stays).
SELECT c.id, c.kind, c.file_id, c.key,
       c.key IN ({{ r.named_keys(has_tool_files, has_pauses, has_datasets, has_documents) }}) AS still_named
FROM dify_maintenance.file_candidates AS c
WHERE c.id = ANY(%(ids)s) AND c.referenced_by IS NULL AND c.outcome IS NULL
  AND (c.kind = 'object' OR c.rows_deleted)
ORDER BY c.id
