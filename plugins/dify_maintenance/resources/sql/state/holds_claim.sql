-- Does this run still hold the claim? A read: batches of families purged in parallel never queue
-- behind each other on the claim row (the heartbeat write happens only now and then).
SELECT run_key FROM dify_maintenance.claim
WHERE lock_name = %(lock_name)s AND run_key = %(run_key)s
