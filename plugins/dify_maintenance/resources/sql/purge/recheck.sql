{#
The batch's re-check, a new statement (so a new snapshot), before the commit and once more right
after it: which rows the batch deleted does a live Dify name now? A child written under a deleted
parent, a reference written to a deleted root, a root row left naming a deleted row it does not
own. One probe per deleted row and child or reference table, through the index the purge's own
lookups use (the values arrive as arrays, with their position: the caller maps it to the root).
#}
SELECT DISTINCT u.lv, u.i
FROM (
    SELECT NULL::int AS lv, NULL::bigint AS i WHERE false
{% for p in parents %}
{% set arrays %}{% for c in p.columns %}%(k{{ p.n }}_{{ loop.index0 }})s::{{ p.types[loop.index0] }}[]{{ ", " if not loop.last }}{% endfor %}{% endset %}
{% set names %}{% for c in p.columns %}c{{ loop.index0 }}, {% endfor %}i{% endset %}
{% for ch in p.children %}
    UNION ALL
    SELECT {{ p.n }}, k.i
    FROM unnest({{ arrays }}) WITH ORDINALITY AS k ({{ names }})
    WHERE EXISTS (
        SELECT 1 FROM {{ "public"|ident }}.{{ ch.table|ident }} AS x
        WHERE x.{{ ch.parent_column|ident }} = k.c{{ p.columns.index(ch.parent_key) }}
{% for child_col, parent_col in ch.match %}
          AND x.{{ child_col|ident }} = k.c{{ p.columns.index(parent_col) }}
{% endfor %}
{% for child_col, param in ch.match_values %}
          AND x.{{ child_col|ident }} = ANY(%({{ param }})s)
{% endfor %}
    )
{% endfor %}
{% for ref in p.references %}
    UNION ALL
    SELECT {{ p.n }}, k.i
    FROM unnest({{ arrays }}) WITH ORDINALITY AS k ({{ names }})
    WHERE EXISTS (
{% if ref.kind == "month_index" %}
        SELECT 1 FROM {{ "public"|ident }}.{{ ref.ref_table|ident }} AS b
        WHERE b.tenant_id = k.c{{ p.columns.index("tenant_id") }}
          AND b.year = extract(year FROM k.c{{ p.columns.index("created_at") }})::int
          AND b.month = extract(month FROM k.c{{ p.columns.index("created_at") }})::int
{% else %}
        SELECT 1 FROM {{ "public"|ident }}.{{ ref.ref_table|ident }} AS x
        WHERE x.{{ ref.ref_column|ident }} = k.c{{ p.columns.index(ref.key) }}
{% if ref.role_column %}
          AND x.{{ ref.role_column|ident }} = %({{ ref.role_param }})s
{% endif %}
{% if ref.not_deleted %}
          {# a root row of this batch that went does not count #}
          AND NOT (x.{{ ref.not_deleted|ident }} = ANY(%(k0_0)s::{{ root_type }}[]))
{% endif %}
{% endif %}
    )
{% endfor %}
{% endfor %}
) AS u
