-- Bound how long a rewrite waits for its lock, so a live Dify never queues behind us for long.
SELECT set_config('lock_timeout', %(lock_timeout)s, false)
