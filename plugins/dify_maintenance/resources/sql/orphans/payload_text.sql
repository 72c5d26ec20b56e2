-- A session table for the content of payload objects being searched, a piece per row.
CREATE TEMP TABLE IF NOT EXISTS dm_payload_text (n int NOT NULL, content text NOT NULL) ON COMMIT PRESERVE ROWS
