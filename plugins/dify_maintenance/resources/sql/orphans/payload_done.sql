-- A payload object this run has read (or found missing): later checks of the run skip it.
INSERT INTO dify_maintenance.file_payloads (run_key, key, kind, bytes, outcome)
VALUES (%(run_key)s, %(key)s, %(kind)s, %(bytes)s, %(outcome)s)
ON CONFLICT (run_key, key) DO NOTHING
