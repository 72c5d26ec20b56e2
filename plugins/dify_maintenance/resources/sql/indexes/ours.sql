-- Our supporting indexes (by name prefix), valid or left invalid by an interrupted build, with
-- their size and when we built them (where recorded).
SELECT i.relname AS index_name, t.relname AS table_name, x.indisvalid AS valid,
       pg_relation_size(i.oid) AS bytes, b.built_at
FROM pg_index AS x
JOIN pg_class AS i ON i.oid = x.indexrelid
JOIN pg_class AS t ON t.oid = x.indrelid
JOIN pg_namespace AS n ON n.oid = i.relnamespace
LEFT JOIN dify_maintenance.built_indexes AS b ON b.index_name = i.relname
WHERE n.nspname = 'public' AND i.relname LIKE ANY (SELECT p || '%%' FROM unnest(%(prefixes)s::text[]) AS p)
ORDER BY i.relname
