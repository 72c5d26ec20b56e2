SELECT family, stage, cursor, done, batches, seconds, counters
FROM dify_maintenance.progress
WHERE run_key = %(run_key)s
{% if family %}  AND family = %(family)s
{% endif %}
ORDER BY family, stage
