{% import "purge/_macros.sql" as m %}
-- How many root rows are older than the cutoff and in scope (before keep rules).
SELECT count(*) AS expired
FROM {{ "public"|ident }}.{{ table|ident }} AS w
WHERE {{ m.expired("w", recency, only_null, scope_columns, filters) }}
