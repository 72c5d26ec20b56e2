-- Which lock modes other sessions hold on the table right now (sampled by the benchmark).
SELECT l.mode
FROM pg_locks l
JOIN pg_class c ON c.oid = l.relation
WHERE c.relname = %(table)s AND c.relnamespace = 'public'::regnamespace AND l.granted AND l.pid <> pg_backend_pid()
