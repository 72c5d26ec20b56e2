-- Where the server keeps its data (readable by superusers and pg_read_all_settings members).
SELECT current_setting('data_directory', true) AS data_directory,
       inet_server_addr() IS NULL OR host(inet_server_addr()) IN ('127.0.0.1', '::1') AS local_server
