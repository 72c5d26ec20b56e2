-- What a copy-and-swap rebuild cannot carry over faithfully; any row here rules it out.
WITH t AS (
    SELECT c.oid, c.relkind, c.relrowsecurity, c.relhassubclass
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relname = %(table)s
)
SELECT 'foreign key ' || con.conname AS blocker FROM pg_constraint con, t
 WHERE (con.conrelid = t.oid OR con.confrelid = t.oid) AND con.contype = 'f'
UNION ALL
SELECT 'exclusion constraint ' || con.conname FROM pg_constraint con, t WHERE con.conrelid = t.oid AND con.contype = 'x'
UNION ALL
SELECT 'trigger ' || tg.tgname FROM pg_trigger tg, t WHERE tg.tgrelid = t.oid AND NOT tg.tgisinternal
UNION ALL
SELECT 'dependent view ' || v.relname
  FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class, t
 WHERE d.refobjid = t.oid AND d.classid = 'pg_rewrite'::regclass AND v.oid <> t.oid
UNION ALL
SELECT 'row level security' FROM t WHERE t.relrowsecurity
UNION ALL
SELECT 'policy ' || p.polname FROM pg_policy p, t WHERE p.polrelid = t.oid
UNION ALL
SELECT 'not a plain table (kind ' || t.relkind::text || ')' FROM t WHERE t.relkind <> 'r'
UNION ALL
SELECT 'has inheritance children' FROM t WHERE t.relhassubclass
UNION ALL
SELECT 'inherits from ' || i.inhparent::regclass::text FROM pg_inherits i, t WHERE i.inhrelid = t.oid
UNION ALL
SELECT 'in publication ' || pub.pubname FROM pg_publication_rel pr JOIN pg_publication pub ON pub.oid = pr.prpubid, t
 WHERE pr.prrelid = t.oid
UNION ALL
SELECT 'column privileges on ' || a.attname FROM pg_attribute a, t
 WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL
UNION ALL
SELECT 'identity or generated column ' || a.attname FROM pg_attribute a, t
 WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped AND (a.attidentity <> '' OR a.attgenerated <> '')
UNION ALL
SELECT 'custom statistics target on ' || a.attname FROM pg_attribute a, t
 WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attstattarget > 0
