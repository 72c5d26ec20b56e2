-- Table data a dump would hold (heap and TOAST, no index: pg_dump writes index definitions only):
-- an upper bound for a compressed dump, to compare with the free space it will land on.
SELECT c.relname AS table_name, pg_table_size(c.oid) AS data_bytes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r'
