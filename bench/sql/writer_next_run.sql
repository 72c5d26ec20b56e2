-- The oldest ended run still there: the purge's next batch (what the writer aims at half the time).
SELECT r.id FROM {{ "public"|ident }}.workflow_runs AS r
WHERE r.status = 'succeeded' AND r.created_at < %(cutoff)s
ORDER BY r.created_at, r.id LIMIT 1
