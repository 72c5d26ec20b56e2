-- Planner row estimate and on-disk size (heap, toast and indexes) per table.
SELECT c.relname AS table_name,
       greatest(c.reltuples, 0)::bigint AS row_estimate,
       pg_total_relation_size(c.oid) AS total_bytes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname = ANY(%(tables)s)
