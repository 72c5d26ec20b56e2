{% import "orphans/_refs.sql" as r %}
-- Tool files have no creation time: their object's age stands for it, so a tool file whose
-- object is not listed (age unknown) is never a candidate.
INSERT INTO dify_maintenance.file_candidates (run_key, kind, file_id, key, size, created_at, object_size, object_modified)
SELECT %(run_key)s, 'tool_file', t.id, l.key, t.size, NULL, l.size, l.modified
FROM {{ "public"|ident }}.{{ "tool_files"|ident }} AS t
JOIN dm_listed_keys AS l ON l.key = {{ r.norm_key("t.file_key") }}
WHERE l.modified < %(object_cutoff)s
{% if created_before %}
  AND l.modified < %(created_before)s
{% endif %}
