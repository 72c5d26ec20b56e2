-- A run recorded before (a retry or resume reads its first cutoffs), or none.
SELECT run_key, cutoffs, started_at FROM dify_maintenance.runs WHERE run_key = %(run_key)s
