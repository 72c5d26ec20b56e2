{% import "purge/_macros.sql" as m %}
-- Root rows that are expired, in scope and not protected by any keep rule: must be none after a purge.
SELECT count(*) AS remaining
FROM {{ "public"|ident }}.{{ table|ident }} AS c
WHERE {{ m.expired("c", recency, only_null, scope_columns, filters) }}
{% for rule in rules %}
  AND NOT ({{ m.keep_condition(rule, "c") }})
{% endfor %}
