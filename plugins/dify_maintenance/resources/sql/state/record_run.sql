-- First call fixes the run's cutoffs; a retry or resume reads back the same row unchanged.
INSERT INTO dify_maintenance.runs (run_key, dag_id, run_id, cutoffs, policy, dify_version)
VALUES (%(run_key)s, %(dag_id)s, %(run_id)s, %(cutoffs)s, %(policy)s, %(dify_version)s)
ON CONFLICT (run_key) DO UPDATE SET run_key = EXCLUDED.run_key
RETURNING run_key, cutoffs, policy, started_at
