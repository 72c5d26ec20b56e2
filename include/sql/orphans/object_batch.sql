-- The next candidates whose object may move to quarantine: unreferenced, their rows gone (or
-- never there), and whether a live row still names the key (then the object stays).
SELECT c.id, c.kind, c.file_id, c.key,
       (EXISTS (SELECT 1 FROM upload_files AS u WHERE u.key = c.key)
{% if has_tool_files %}
        OR EXISTS (SELECT 1 FROM tool_files AS t WHERE t.file_key = c.key)
{% endif %}
{% if has_pauses %}
        OR EXISTS (SELECT 1 FROM workflow_pauses AS p WHERE p.state_object_key = c.key)
{% endif %}
{% if has_datasets %}
        OR EXISTS (SELECT 1 FROM datasets AS d WHERE c.key = 'keyword_files/' || d.tenant_id || '/' || d.id || '.txt')
{% endif %}
       ) AS still_named
FROM dify_maintenance.file_candidates AS c
WHERE c.run_key = %(run_key)s AND c.referenced_by IS NULL AND c.outcome IS NULL
  AND (c.kind = 'object' OR c.rows_deleted)
ORDER BY c.id
LIMIT %(batch)s
