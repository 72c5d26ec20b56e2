-- Installed extensions we can use: pgstattuple (exact free space), pg_repack (online rewrite).
SELECT extname, extversion FROM pg_extension WHERE extname = ANY(%(names)s)
