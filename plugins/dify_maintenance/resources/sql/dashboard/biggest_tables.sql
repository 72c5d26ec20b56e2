-- The biggest tables now, with their dead space (the share of dead tuples of the heap, an
-- estimate from the statistics collector; VACUUM makes it reusable, only a rewrite returns it).
SELECT t.relname AS table_name,
       pg_total_relation_size(t.relid) AS total_bytes,
       pg_relation_size(t.relid) AS heap_bytes,
       t.n_live_tup AS live_rows,
       t.n_dead_tup AS dead_rows,
       (pg_relation_size(t.relid) * t.n_dead_tup::numeric / nullif(t.n_live_tup + t.n_dead_tup, 0))::bigint AS dead_bytes,
       t.last_autovacuum, t.last_vacuum
FROM pg_stat_user_tables AS t
WHERE t.schemaname = 'public'
ORDER BY pg_total_relation_size(t.relid) DESC, t.relname
LIMIT %(limit)s
