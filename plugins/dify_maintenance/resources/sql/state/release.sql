DELETE FROM dify_maintenance.claim WHERE lock_name = %(lock_name)s AND run_key = %(run_key)s
