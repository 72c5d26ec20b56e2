-- Size and row estimate of every public table: what each schema change would have to touch.
SELECT c.relname AS table_name, greatest(c.reltuples, 0)::bigint AS row_estimate,
       pg_relation_size(c.oid) AS heap_bytes, pg_total_relation_size(c.oid) AS total_bytes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r'
