-- Everything that makes up a table's definition, as comparable text: columns, constraints,
-- indexes, owned sequences, privileges, owner, storage options, replica identity, comments.
WITH t AS (
    SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relname = %(table)s
)
SELECT 'column' AS kind, a.attname::text AS name,
       concat_ws(' ', format_type(a.atttypid, a.atttypmod),
                 CASE WHEN a.attnotnull THEN 'NOT NULL' END,
                 'DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid),
                 'COLLATE ' || nullif(co.collname, 'default'),
                 'STORAGE ' || a.attstorage::text,
                 'COMMENT ' || col_description(t.oid, a.attnum)) AS definition,
       a.attnum AS position
FROM t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef ad ON ad.adrelid = t.oid AND ad.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
UNION ALL
SELECT 'constraint', con.conname::text, pg_get_constraintdef(con.oid), 0
FROM t JOIN pg_constraint con ON con.conrelid = t.oid
UNION ALL
SELECT 'index', i.relname::text, pg_get_indexdef(i.oid), 0
FROM t JOIN pg_index x ON x.indrelid = t.oid JOIN pg_class i ON i.oid = x.indexrelid
UNION ALL
SELECT 'owned sequence', s.relname::text, a.attname::text, 0
FROM t JOIN pg_depend d ON d.refobjid = t.oid AND d.classid = 'pg_class'::regclass AND d.deptype = 'a'
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
UNION ALL
SELECT 'table', t.relname::text,
       concat_ws(' ', 'OWNER ' || pg_get_userbyid(c.relowner), 'ACL ' || (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(c.relacl) x),
                 'OPTIONS ' || c.reloptions::text, 'REPLICA IDENTITY ' || c.relreplident::text,
                 'COMMENT ' || obj_description(t.oid, 'pg_class'), 'PERSISTENCE ' || c.relpersistence::text), 0
FROM t JOIN pg_class c ON c.oid = t.oid
ORDER BY 1, 4, 2
