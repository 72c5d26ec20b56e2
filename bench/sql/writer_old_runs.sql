-- Ended runs older than the bench's cutoff: the parents a live Dify still writes under (a node
-- execution for a run resumed from the log page, an app log backfilled). Random order.
SELECT r.id FROM {{ "public"|ident }}.workflow_runs AS r
WHERE r.status = 'succeeded' AND r.created_at < %(cutoff)s
ORDER BY md5(r.id::text) LIMIT %(limit)s
