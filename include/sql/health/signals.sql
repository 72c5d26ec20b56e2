-- The signals a purge must yield to (GitLab's health indicators, anchors section 5.1):
-- the oldest transaction that holds back the xmin horizon (other than our own sessions),
-- the worst standby replay lag, and whether autovacuum is working on the table right now.
SELECT
    (SELECT coalesce(max(extract(epoch FROM now() - a.xact_start)), 0)
       FROM pg_stat_activity AS a
      WHERE (a.backend_xmin IS NOT NULL OR a.backend_xid IS NOT NULL) AND a.pid <> pg_backend_pid()
        AND coalesce(a.application_name, '') <> %(application_name)s) AS oldest_transaction_seconds,
    (SELECT coalesce(max(extract(epoch FROM r.replay_lag)), 0) FROM pg_stat_replication AS r) AS replication_lag_seconds,
    EXISTS (
        SELECT 1 FROM pg_stat_progress_vacuum AS v
        JOIN pg_stat_activity AS a ON a.pid = v.pid
        WHERE v.relid = to_regclass(%(table)s) AND a.backend_type = 'autovacuum worker'
    ) AS autovacuum_on_table
