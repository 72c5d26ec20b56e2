-- A restart (the form's restart): the stream starts again from its window's beginning.
DELETE FROM dify_maintenance.log_migration WHERE stream_key = %(stream_key)s
