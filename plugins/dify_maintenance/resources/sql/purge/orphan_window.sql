{% import "purge/_macros.sql" as m %}
{#
One window of a child table's orphan sweep: rows older than the cutoff whose parent is gone (left
by earlier partial cleanups), or that never had one where that means garbage. Only rows in the
run's tenant/app scope, judged by the child row's own columns, are taken; the others are counted.

walk "parent": the next distinct parent values, through the index that leads with the parent
column (one probe each: a run's 17 node executions cost one), then the children of the parents
that are gone; phase "nulls" afterwards takes the rows with no parent. walk "pk": primary-key
windows over the whole table (no such index).
#}
{% set k = keys %}
WITH RECURSIVE {% if walk == "parent" and phase == "parents" %}parents (p, n) AS (
    (SELECT t.{{ parent_column|ident }}, 1
     FROM {{ "public"|ident }}.{{ table|ident }} AS t
     WHERE t.{{ parent_column|ident }} {% if has_cursor %}> %(after_0)s{% else %}IS NOT NULL{% endif %}

     ORDER BY t.{{ parent_column|ident }} LIMIT 1)
    UNION ALL
    SELECT (SELECT t.{{ parent_column|ident }} FROM {{ "public"|ident }}.{{ table|ident }} AS t
            WHERE t.{{ parent_column|ident }} > x.p ORDER BY t.{{ parent_column|ident }} LIMIT 1), x.n + 1
    FROM parents AS x
    WHERE x.p IS NOT NULL AND x.n < %(limit)s
), gone AS (
    SELECT x.p FROM parents AS x
    WHERE x.p IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM {{ "public"|ident }}.{{ parent_table|ident }} AS q WHERE q.{{ parent_key|ident }} = x.p)
), orphaned AS MATERIALIZED (
    SELECT {{ m.cols("t", k) }}{% for c in scope_columns if c not in k %}, t.{{ c|ident }}{% endfor %}

    FROM {{ "public"|ident }}.{{ table|ident }} AS t
    WHERE t.{{ parent_column|ident }} IN (SELECT gone.p FROM gone)
      AND t.{{ recency|ident }} < %(cutoff)s
){% else %}win AS (
    SELECT {{ m.cols("t", k) }}{% for c in scope_columns if c not in k %}, t.{{ c|ident }}{% endfor %},
           t.{{ recency|ident }} AS _recency, t.{{ parent_column|ident }} AS _parent
    FROM {{ "public"|ident }}.{{ table|ident }} AS t
    WHERE {% if phase == "nulls" %}t.{{ parent_column|ident }} IS NULL AND t.{{ recency|ident }} < %(cutoff)s AND {% endif %}{% if has_cursor %}({{ m.cols("t", k) }}) > ({% for c in k %}%(after_{{ loop.index0 }})s{{ ", " if not loop.last }}{% endfor %}){% else %}TRUE{% endif %}

    ORDER BY {{ m.cols("t", k) }}
    LIMIT %(limit)s
), orphaned AS MATERIALIZED (
    SELECT w.* FROM win AS w
    WHERE w._recency < %(cutoff)s
      AND ({% if null_is_orphan %}w._parent IS NULL OR {% endif %}(w._parent IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM {{ "public"|ident }}.{{ parent_table|ident }} AS p WHERE p.{{ parent_key|ident }} = w._parent)))
){% endif %}, found AS (
    INSERT INTO {{ cand|ident }} ({{ m.names(k) }})
    SELECT {{ m.cols("o", k) }} FROM orphaned AS o
    WHERE TRUE {{ m.scope("o", scope_columns, filters) }}
    RETURNING 1
)
SELECT {% if walk == "parent" and phase == "parents" %}(SELECT count(*) FROM parents WHERE p IS NOT NULL){% else %}(SELECT count(*) FROM win){% endif %} AS scanned,
       (SELECT count(*) FROM found) AS matched,
       (SELECT count(*) FROM orphaned) - (SELECT count(*) FROM found) AS out_of_scope,
{% if walk == "parent" and phase == "parents" %}
       (SELECT x.p::text FROM parents AS x WHERE x.p IS NOT NULL ORDER BY x.n DESC LIMIT 1) AS last_0
{% else %}
{% for c in k %}
       (SELECT w.{{ c|ident }}::text FROM win AS w ORDER BY {% for c2 in k %}w.{{ c2|ident }} DESC{{ ", " if not loop.last }}{% endfor %} LIMIT 1) AS last_{{ loop.index0 }}{{ "," if not loop.last }}
{% endfor %}
{% endif %}
