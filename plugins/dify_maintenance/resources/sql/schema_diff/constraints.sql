-- Constraints (primary keys, unique, checks, foreign keys, exclusions) of public tables.
SELECT t.relname AS table_name, con.conname AS constraint_name, con.contype::text AS constraint_type,
       pg_get_constraintdef(con.oid) AS definition
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = 'public' AND t.relkind IN ('r', 'p') AND con.contype IN ('p', 'u', 'c', 'f', 'x')
ORDER BY t.relname, con.conname
