-- Serialise index builds between the families purged in parallel: a second family waits for the
-- first build and then finds the index valid, instead of racing it.
SELECT pg_advisory_lock(hashtext('dify_maintenance.indexes'))
