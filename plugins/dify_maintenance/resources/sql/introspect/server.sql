SELECT current_setting('server_version_num')::int AS server_version_num,
       current_setting('server_version') AS server_version,
       current_database() AS database,
       pg_is_in_recovery() AS in_recovery,
       now() AS now
