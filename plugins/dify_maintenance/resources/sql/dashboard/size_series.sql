-- The total size of the given tables at each snapshot.
SELECT taken_at, sum(total_bytes)::bigint AS bytes, sum(live_rows)::bigint AS rows
FROM dify_maintenance.table_sizes
WHERE table_name = ANY(%(tables)s) AND taken_at >= %(since)s
GROUP BY taken_at
ORDER BY taken_at
