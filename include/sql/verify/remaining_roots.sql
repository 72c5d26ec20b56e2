{% import "purge/_macros.sql" as m %}
-- Root rows that are expired, in scope and not protected by any keep rule: must be none after a purge.
SELECT count(*) AS remaining
FROM {{ "public"|ident }}.{{ table|ident }} AS c
WHERE {{ m.expired("c", recency, only_null, scope_columns, filters) }}
{% for rule in rules %}
  AND NOT (
  {% if rule.kind == "status" %}
    c.{{ rule.status_column|ident }} IS NULL OR NOT (c.{{ rule.status_column|ident }} = ANY(%(statuses)s))
  {% elif rule.kind == "reference" %}
    EXISTS (SELECT 1 FROM {{ "public"|ident }}.{{ rule.ref_table|ident }} AS x WHERE x.{{ rule.ref_column|ident }} = c.{{ key|ident }}
            {% if rule.role_column %}AND x.{{ rule.role_column|ident }} = %(role_{{ loop.index }})s{% endif %})
  {% else %}
    EXISTS (SELECT 1 FROM {{ m.path_tables(rule.path) }} WHERE {{ m.path_join(rule.path, "c") }}
            {% if rule.newer_column %}AND t{{ rule.path|length }}.{{ rule.newer_column|ident }} >= %(cutoff)s{% endif %})
  {% endif %}
  )
{% endfor %}
