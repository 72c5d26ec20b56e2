-- Take the database for this run unless another run holds it and is still alive.
-- The advisory transaction lock serialises competing claims; the row outlives our sessions so
-- that every task of the run (separate processes) shares it.
WITH serialise AS (SELECT pg_advisory_xact_lock(%(lock_key)s))
INSERT INTO dify_maintenance.claim AS c (lock_name, run_key)
SELECT %(lock_name)s, %(run_key)s FROM serialise
ON CONFLICT (lock_name) DO UPDATE
    SET run_key = EXCLUDED.run_key, claimed_at = now(), heartbeat_at = now()
    WHERE c.run_key = EXCLUDED.run_key
       OR c.heartbeat_at < now() - make_interval(secs => %(stale_seconds)s)
RETURNING run_key
