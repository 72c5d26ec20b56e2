-- After a verified migration: record the new backend on a batch of upload rows.
UPDATE upload_files SET storage_type = %(storage_type)s
WHERE id IN (SELECT id FROM upload_files WHERE storage_type IS DISTINCT FROM %(storage_type)s LIMIT %(batch)s)
