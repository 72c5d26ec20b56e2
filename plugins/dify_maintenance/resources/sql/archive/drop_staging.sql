DROP TABLE IF EXISTS _dm_restore, _dm_restore_json
