-- Our temporary supporting indexes (by name prefix), valid or left invalid by an interrupted build.
SELECT i.relname AS index_name, t.relname AS table_name, x.indisvalid AS valid
FROM pg_index AS x
JOIN pg_class AS i ON i.oid = x.indexrelid
JOIN pg_class AS t ON t.oid = x.indrelid
JOIN pg_namespace AS n ON n.oid = i.relnamespace
WHERE n.nspname = 'public' AND starts_with(i.relname, %(prefix)s)
ORDER BY i.relname
