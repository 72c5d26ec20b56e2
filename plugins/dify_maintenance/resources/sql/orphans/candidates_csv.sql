COPY (
    SELECT kind, file_id, key, size, created_at, object_size, object_modified,
           CASE WHEN kind = 'object' THEN %(searched_objects)s ELSE %(searched_rows)s END AS searched
    FROM dify_maintenance.file_candidates
    WHERE run_key = %(run_key)s AND referenced_by IS NULL
    ORDER BY kind, key
) TO STDOUT WITH (FORMAT csv, HEADER)
