-- Free and dead space from the visibility map and free space map (pgstattuple_approx scans
-- only pages that are not all-visible), plus the sizes of heap, toast and indexes.
SELECT 'pgstattuple_approx' AS method,
       s.table_len AS heap_bytes,
       pg_total_relation_size(c.oid) AS total_bytes,
       s.approx_tuple_count::bigint AS live_tuples,
       s.dead_tuple_count AS dead_tuples,
       (s.dead_tuple_len + s.approx_free_space)::bigint AS reclaimable_bytes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL pgstattuple_approx(c.oid) s
WHERE n.nspname = 'public' AND c.relname = %(table)s
