-- The signals a purge must yield to (GitLab's health indicators, anchors section 5.1):
-- what holds back this database's xmin horizon (so VACUUM could not clean up after us): the
-- oldest open transaction in this database (other than our own sessions) or prepared
-- transaction of it, and a replication slot's xmin (physical slots count for every database);
-- the worst standby replay lag; and whether autovacuum is working on the table right now.
-- Transactions in other databases of the server do not hold back this one's horizon: ignored.
SELECT
    greatest(
        (SELECT coalesce(max(extract(epoch FROM now() - a.xact_start)), 0)
           FROM pg_stat_activity AS a
          WHERE (a.backend_xmin IS NOT NULL OR a.backend_xid IS NOT NULL) AND a.pid <> pg_backend_pid()
            AND a.datname = current_database()
            AND coalesce(a.application_name, '') <> %(application_name)s),
        (SELECT coalesce(max(extract(epoch FROM now() - p.prepared)), 0)
           FROM pg_prepared_xacts AS p WHERE p.database = current_database())
    ) AS oldest_transaction_seconds,
    (SELECT coalesce(max(age(s.xmin)), 0)
       FROM pg_replication_slots AS s
      WHERE s.xmin IS NOT NULL AND (s.database IS NULL OR s.database = current_database())) AS slot_xmin_age,
    (SELECT coalesce(max(extract(epoch FROM r.replay_lag)), 0) FROM pg_stat_replication AS r) AS replication_lag_seconds,
    EXISTS (
        SELECT 1 FROM pg_stat_progress_vacuum AS v
        JOIN pg_stat_activity AS a ON a.pid = v.pid
        WHERE v.relid = to_regclass(%(table)s) AND a.backend_type = 'autovacuum worker'
    ) AS autovacuum_on_table
