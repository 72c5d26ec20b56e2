DELETE FROM dify_maintenance.built_indexes WHERE index_name = %(name)s
