SELECT pg_advisory_unlock(hashtext('dify_maintenance.indexes'))
