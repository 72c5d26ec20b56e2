-- Files the database names (uploads and tool files) that the storage listing does not have, and
-- uploads whose recorded size differs from the stored object's.
SELECT 'upload_files' AS source, u.key, u.size::bigint AS recorded_size, l.size AS stored_size
FROM upload_files u LEFT JOIN dm_listed_keys l ON l.key = u.key
WHERE l.key IS NULL OR (u.size IS NOT NULL AND u.size > 0 AND l.size <> u.size)
{% if has_tool_files %}
UNION ALL
SELECT 'tool_files', t.file_key, NULL::bigint, l.size
FROM tool_files t LEFT JOIN dm_listed_keys l ON l.key = t.file_key
WHERE l.key IS NULL
{% endif %}

ORDER BY 1, 2
LIMIT %(limit)s
