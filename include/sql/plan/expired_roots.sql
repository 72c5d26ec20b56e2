{% import "purge/_macros.sql" as m %}
-- How many root rows are older than the cutoff and in scope (before keep rules).
SELECT count(*) AS expired
FROM {{ "public"|ident }}.{{ table|ident }} AS w
WHERE TRUE
{% for c in recency %}
  AND w.{{ c|ident }} < %(cutoff)s
{% endfor %}
{% for c in only_null %}
  AND w.{{ c|ident }} IS NULL
{% endfor %}
  {{ m.scope("w", scope_columns, filters) }}
