SELECT run_key, dag_id, run_id, cutoffs, policy, dify_version, started_at, finished_at, outcome
FROM dify_maintenance.runs WHERE run_key = %(run_key)s
