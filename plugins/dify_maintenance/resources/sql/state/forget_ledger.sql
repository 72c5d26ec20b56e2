-- A finished run's dry-run ledger, and any left by runs that ended without their report.
DELETE FROM dify_maintenance.dry_run_ledger
WHERE run_key = %(run_key)s
   OR run_key IN (SELECT run_key FROM dify_maintenance.runs WHERE finished_at IS NOT NULL)
