-- The storage keys of offloaded payload files (the proof at the moment of deleting reads them;
-- the upload_files rows stay: the files are collected later, if at all).
SELECT id::text AS id, key
FROM upload_files
WHERE id = ANY(%(ids)s::uuid[])
