UPDATE dify_maintenance.runs SET finished_at = now(), outcome = %(outcome)s WHERE run_key = %(run_key)s
