UPDATE dify_maintenance.file_candidates SET rows_deleted = true WHERE id = ANY(%(ids)s)
