-- An index this package built in Dify's database: kept for the next runs, listed in reports.
INSERT INTO dify_maintenance.built_indexes (index_name, table_name, column_name, build_seconds)
VALUES (%(name)s, %(table)s, %(column)s, %(seconds)s)
ON CONFLICT (index_name) DO UPDATE SET built_at = now(), build_seconds = EXCLUDED.build_seconds
