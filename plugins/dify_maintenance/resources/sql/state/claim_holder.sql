SELECT run_key, claimed_at, heartbeat_at FROM dify_maintenance.claim WHERE lock_name = %(lock_name)s
