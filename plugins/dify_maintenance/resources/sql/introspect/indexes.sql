-- Valid btree indexes of the public schema with their key columns in order (expressions as NULL).
SELECT t.relname AS table_name,
       i.relname AS index_name,
       ARRAY(
           SELECT a.attname
           FROM unnest(x.indkey[0:x.indnkeyatts - 1]) WITH ORDINALITY AS k(attnum, ord)
           LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
           ORDER BY k.ord
       ) AS columns,
       x.indpred IS NOT NULL AS partial,
       pg_get_expr(x.indpred, x.indrelid) AS predicate,
       x.indisunique AS is_unique,
       x.indisprimary AS is_primary
FROM pg_index x
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
JOIN pg_am am ON am.oid = i.relam
WHERE n.nspname = 'public' AND am.amname = 'btree' AND x.indisvalid
ORDER BY t.relname, i.relname
