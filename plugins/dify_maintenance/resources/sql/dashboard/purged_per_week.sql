-- Rows deleted per week and family by the runs that purge (dry runs excluded).
SELECT date_trunc('week', h.recorded_at) AS week, f.key AS family, sum(f.value::bigint)::bigint AS rows
FROM dify_maintenance.history AS h
CROSS JOIN LATERAL jsonb_each_text(coalesce(h.report -> 'per_family', '{}'::jsonb)) AS f
WHERE h.dag_id = ANY(%(dag_ids)s)
  AND NOT coalesce((h.report ->> 'dry_run')::boolean, false)
  AND h.recorded_at >= %(since)s
GROUP BY 1, 2
ORDER BY 1, 2
