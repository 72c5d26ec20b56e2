{% import "purge/_macros.sql" as m %}
-- The planner's estimate of expired root rows (no rows are read), for progress and time left.
EXPLAIN (FORMAT JSON)
SELECT 1
FROM {{ "public"|ident }}.{{ table|ident }} AS w
WHERE {{ m.expired("w", recency, only_null, scope_columns, filters) }}
