-- The next candidate rows of one kind to delete; locked so a concurrent retry cannot take them.
SELECT id, file_id
FROM dify_maintenance.file_candidates
WHERE run_key = %(run_key)s AND kind = %(kind)s AND referenced_by IS NULL AND NOT rows_deleted AND outcome IS NULL
ORDER BY id
LIMIT %(batch)s
FOR UPDATE SKIP LOCKED
