DELETE FROM dify_maintenance.log_migration_rejects WHERE stream_key = %(stream_key)s
