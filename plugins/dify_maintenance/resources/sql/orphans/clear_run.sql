-- A retried inventory starts this run's candidate list (and the payloads it read) again.
WITH payloads AS (
    DELETE FROM dify_maintenance.file_payloads WHERE run_key = %(run_key)s
)
DELETE FROM dify_maintenance.file_candidates WHERE run_key = %(run_key)s
