-- Runs still running or paused must survive whatever their age.
INSERT INTO bench_truth.keep (tbl, id)
SELECT 'workflow_runs', r.id FROM {{ "public"|ident }}.workflow_runs AS r WHERE r.status = ANY(%(statuses)s)
ON CONFLICT DO NOTHING
