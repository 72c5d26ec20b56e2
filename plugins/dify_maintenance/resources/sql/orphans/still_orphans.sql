-- Of a batch just checked again, the candidates still unreferenced (the others are kept).
SELECT id, file_id
FROM dify_maintenance.file_candidates
WHERE id = ANY(%(ids)s) AND referenced_by IS NULL
ORDER BY id
