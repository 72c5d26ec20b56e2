-- A retried inventory starts this run's candidate list again.
DELETE FROM dify_maintenance.file_candidates WHERE run_key = %(run_key)s
