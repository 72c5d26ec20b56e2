-- Indexes of every table in the public schema, with their definition minus the index name.
SELECT t.relname AS table_name, i.relname AS index_name,
       regexp_replace(pg_get_indexdef(i.oid), '^CREATE (UNIQUE )?INDEX \S+ ON ', 'CREATE \1INDEX ON ') AS definition,
       x.indisprimary AS is_primary, x.indisunique AS is_unique
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public' AND t.relkind IN ('r', 'p')
ORDER BY t.relname, i.relname
