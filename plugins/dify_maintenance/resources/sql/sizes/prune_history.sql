-- The hourly snapshot's own history rows (one per run) older than the kept window, by the
-- database's clock: the other DAGs' history stays.
DELETE FROM dify_maintenance.history
WHERE dag_id = 'dify_table_sizes' AND recorded_at < now() - make_interval(days => %(keep_days)s)
