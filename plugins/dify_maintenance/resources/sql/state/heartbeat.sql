-- Refresh the claim; no row means the run lost it and must stop.
UPDATE dify_maintenance.claim SET heartbeat_at = now()
WHERE lock_name = %(lock_name)s AND run_key = %(run_key)s
RETURNING run_key
