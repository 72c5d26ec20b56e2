-- Rows newer than the cutoff (by any of their recency columns) must survive.
INSERT INTO bench_truth.keep (tbl, id)
SELECT %(tbl)s, t.id FROM {{ "public"|ident }}.{{ table|ident }} AS t
WHERE {% for c in recency %}t.{{ c|ident }} >= %(cutoff)s{{ " OR " if not loop.last }}{% endfor %}

ON CONFLICT DO NOTHING
