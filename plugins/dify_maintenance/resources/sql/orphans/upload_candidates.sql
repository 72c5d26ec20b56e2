{% import "orphans/_refs.sql" as r %}
-- Every upload row older than the grace period whose object (when listed) is old too, with its
-- key as OpenDAL lists it. Whether anything references it is decided afterwards, source by source.
INSERT INTO dify_maintenance.file_candidates (run_key, kind, file_id, key, size, created_at, object_size, object_modified)
SELECT %(run_key)s, 'upload_file', u.id, {{ r.norm_key("u.key") }}, u.size, u.created_at, l.size, l.modified
FROM {{ "public"|ident }}.{{ "upload_files"|ident }} AS u
LEFT JOIN dm_listed_keys AS l ON l.key = {{ r.norm_key("u.key") }}
WHERE u.created_at < %(row_cutoff)s
  AND (l.key IS NULL OR l.modified < %(object_cutoff)s)
{% if created_before %}
  AND u.created_at < %(created_before)s
{% endif %}
