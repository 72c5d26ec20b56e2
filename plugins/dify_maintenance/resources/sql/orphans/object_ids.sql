-- The next candidates whose object is still to be decided: objects no row names, and any whose
-- row an earlier try deleted before it could move the object.
SELECT id
FROM dify_maintenance.file_candidates
WHERE run_key = %(run_key)s AND referenced_by IS NULL AND outcome IS NULL
  AND (kind = 'object' OR rows_deleted)
ORDER BY id
LIMIT %(batch)s
