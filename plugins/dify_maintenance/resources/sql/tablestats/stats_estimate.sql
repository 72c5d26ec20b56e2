-- Without pgstattuple: live rows times their average width (from pg_stats) against the heap
-- size. An estimate, labelled as such in the report; good enough to pick a strategy. A table
-- never analyzed has no widths: then only the dead-tuple share counts as reclaimable.
WITH t AS (
    SELECT c.oid, c.relname, pg_relation_size(c.oid) AS heap_bytes, pg_total_relation_size(c.oid) AS total_bytes,
           -- reltuples is set by VACUUM and ANALYZE in the catalog itself; the activity counters lag
           -- behind and start at zero in a copied database, so they only stand in for a never-analyzed table
           CASE WHEN c.reltuples >= 0 THEN c.reltuples::bigint ELSE coalesce(s.n_live_tup, 0) END AS live_tuples,
           coalesce(s.n_dead_tup, 0) AS dead_tuples
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
    WHERE n.nspname = 'public' AND c.relname = %(table)s
), width AS (
    SELECT coalesce(sum(avg_width), 0) + 28 AS row_bytes,  -- 24-byte tuple header + 4-byte line pointer
           count(*) AS analyzed_columns
    FROM pg_stats WHERE schemaname = 'public' AND tablename = %(table)s
)
SELECT 'estimate' AS method, t.heap_bytes, t.total_bytes, t.live_tuples, t.dead_tuples,
       CASE WHEN width.analyzed_columns = 0
            THEN (t.heap_bytes * t.dead_tuples / greatest(t.live_tuples + t.dead_tuples, 1))::bigint
            ELSE greatest(t.heap_bytes - (t.live_tuples * width.row_bytes * 1.1)::bigint, 0)
       END AS reclaimable_bytes
FROM t, width
