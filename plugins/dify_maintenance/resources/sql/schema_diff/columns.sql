-- Columns of every table in the public schema, with type, default and nullability as text.
SELECT c.relname AS table_name, a.attname AS column_name, a.attnum AS position,
       format_type(a.atttypid, a.atttypmod) AS data_type,
       pg_get_expr(ad.adbin, ad.adrelid) AS column_default,
       a.attnotnull AS not_null
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
ORDER BY c.relname, a.attnum
