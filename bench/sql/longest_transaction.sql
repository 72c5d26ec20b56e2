-- Age of the oldest open transaction of the algorithm under test (not the concurrent writer's).
SELECT coalesce(max(extract(epoch FROM clock_timestamp() - a.xact_start)), 0)::float8 AS seconds
FROM pg_stat_activity AS a
WHERE a.datname = %(db)s AND a.pid <> pg_backend_pid() AND a.xact_start IS NOT NULL
  AND a.application_name <> ALL(%(ignore)s) AND a.backend_type = 'client backend'
