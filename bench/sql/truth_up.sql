-- A surviving row keeps the (existing) row it names: its parent, its conversation, its end user.
INSERT INTO bench_truth.keep (tbl, id)
SELECT DISTINCT %(parent_tbl)s, c.{{ column|ident }}
FROM {{ "public"|ident }}.{{ child|ident }} AS c
JOIN bench_truth.keep AS k ON k.tbl = %(child_tbl)s AND k.id = c.id
WHERE c.{{ column|ident }} IS NOT NULL
{% if role_column %}  AND c.{{ role_column|ident }} = %(role_value)s{% endif %}
  AND EXISTS (SELECT 1 FROM {{ "public"|ident }}.{{ parent|ident }} AS p WHERE p.{{ key|ident }} = c.{{ column|ident }})
ON CONFLICT DO NOTHING
