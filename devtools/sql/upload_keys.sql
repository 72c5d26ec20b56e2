-- Keys and sizes of the uploads the generator made (not a numbered step: run on demand).
SELECT key, size FROM upload_files WHERE tenant_id = ANY(%(tenant_ids)s) ORDER BY key
