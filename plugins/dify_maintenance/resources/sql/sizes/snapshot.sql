-- One snapshot of every Dify table (public schema): sizes from the catalog, row estimates from
-- the statistics collector (no table is read). Dated by the database's clock, as the history
-- rows the page draws beside them are.
INSERT INTO dify_maintenance.table_sizes (taken_at, table_name, total_bytes, heap_bytes, index_bytes, live_rows, dead_rows)
SELECT now(), t.relname, pg_total_relation_size(t.relid), pg_relation_size(t.relid), pg_indexes_size(t.relid),
       t.n_live_tup, t.n_dead_tup
FROM pg_stat_user_tables AS t
WHERE t.schemaname = 'public'
