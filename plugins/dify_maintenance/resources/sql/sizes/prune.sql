-- Snapshots older than the kept window (a year by default), by the database's clock.
DELETE FROM dify_maintenance.table_sizes WHERE taken_at < now() - make_interval(days => %(keep_days)s)
