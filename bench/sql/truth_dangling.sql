-- Rows that name a row that does not exist. `mode` record: remember them (before any purge);
-- count_new: count those that were not dangling before (left dangling by the algorithm).
{% if mode == "record" %}INSERT INTO bench_truth.dangling (edge, id) SELECT %(edge)s, c.id{% else %}SELECT count(*) AS n{% endif %}

FROM {{ "public"|ident }}.{{ child|ident }} AS c
WHERE c.{{ column|ident }} IS NOT NULL
{% if role_column %}  AND c.{{ role_column|ident }} = %(role_value)s{% endif %}
  AND NOT EXISTS (SELECT 1 FROM {{ "public"|ident }}.{{ parent|ident }} AS p WHERE p.{{ key|ident }} = c.{{ column|ident }})
{% if mode != "record" %}  AND NOT EXISTS (SELECT 1 FROM bench_truth.dangling AS d WHERE d.edge = %(edge)s AND d.id = c.id){% endif %}
{% if mode == "record" %}ON CONFLICT DO NOTHING{% endif %}
