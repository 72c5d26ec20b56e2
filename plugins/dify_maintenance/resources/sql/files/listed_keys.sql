-- A session-private table for the keys a storage listing returned (filled with COPY, streaming).
CREATE TEMP TABLE IF NOT EXISTS dm_listed_keys (key text PRIMARY KEY, size bigint NOT NULL, modified timestamptz) ON COMMIT PRESERVE ROWS
