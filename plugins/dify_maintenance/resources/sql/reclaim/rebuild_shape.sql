-- The parts of a table a rebuild recreates by hand: indexes (with the constraint they back),
-- privileges, owner, storage options, replica identity, table comment, and insertable columns.
WITH t AS (
    SELECT c.* FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relname = %(table)s
)
SELECT 'index' AS kind, i.relname::text AS name, pg_get_indexdef(i.oid) AS detail,
       con.conname::text AS constraint_name, con.contype::text AS constraint_type,
       coalesce(con.condeferrable, false) AS deferrable, coalesce(con.condeferred, false) AS deferred,
       x.indisreplident AS replica_identity
FROM t JOIN pg_index x ON x.indrelid = t.oid JOIN pg_class i ON i.oid = x.indexrelid
LEFT JOIN pg_constraint con ON con.conindid = i.oid AND con.conrelid = t.oid AND con.contype IN ('p', 'u')
UNION ALL
SELECT 'grant', CASE WHEN g.grantee = 0 THEN NULL ELSE pg_get_userbyid(g.grantee) END, g.privilege_type,
       NULL, NULL, g.is_grantable, false, false
FROM t CROSS JOIN LATERAL aclexplode(t.relacl) g
UNION ALL
SELECT 'owner', pg_get_userbyid(t.relowner), NULL, NULL, NULL, false, false, false FROM t
UNION ALL
SELECT 'option', split_part(o, '=', 1), substr(o, strpos(o, '=') + 1), NULL, NULL, false, false, false
FROM t CROSS JOIN LATERAL unnest(t.reloptions) o
UNION ALL
SELECT 'replica identity', NULL, t.relreplident::text, NULL, NULL, false, false, false FROM t
UNION ALL
SELECT 'comment', NULL, obj_description(t.oid, 'pg_class'), NULL, NULL, false, false, false FROM t
WHERE obj_description(t.oid, 'pg_class') IS NOT NULL
UNION ALL
SELECT 'column', a.attname::text, NULL, NULL, NULL, false, false, false
FROM t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'owned sequence', s.relname::text, a.attname::text, NULL, NULL, false, false, false
FROM t JOIN pg_depend d ON d.refobjid = t.oid AND d.classid = 'pg_class'::regclass AND d.deptype = 'a'
JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = d.refobjsubid
