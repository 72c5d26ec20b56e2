-- Serialise index builds between the families purged in parallel: a second family waits for the
-- first build and then finds the index valid, instead of racing it. Tried, not waited for inside
-- the statement: CREATE INDEX CONCURRENTLY waits for every open snapshot, a statement waiting for
-- this lock is one, and the two would wait for each other (a deadlock, seen with two families
-- building at once); the caller polls instead, each try a short statement.
SELECT pg_try_advisory_lock(hashtext('dify_maintenance.indexes')) AS got
