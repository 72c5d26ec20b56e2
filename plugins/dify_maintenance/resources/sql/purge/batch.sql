{% import "purge/_macros.sql" as m %}
{#
One batch of one root table as a single statement: the window, the keep rules, every descendant
row located once, the deletes, the counts. Sub-statements of one WITH share one snapshot, so
"nothing left below" is found-minus-deleted inside the statement: a parent row goes only if every
row found under it went (a row a live Dify changed meanwhile is skipped by its DELETE's re-check on
the live row, and takes its ancestors' deletes with it). Rows written by others after the
statement began are invisible here; the batch's re-check (purge/recheck.sql, a new snapshot)
finds them before the commit.

mode: count (a dry run: what would go, and the dry-run ledger), delete (archive off), copy (the
deleted rows stream out as one JSON text per row, tagged by level, then the summary; tag -1).
Every per-candidate test is an index probe or a hashed subplan over this batch's own rows: hash
and merge joins are off inside a batch, so no plan reads a whole table. (A test against the
batch's own CTE rows is written ``(... IN (SELECT ...)) IS TRUE`` or ``NOT IN``: kept a subplan,
it is hashed; a plain ``IN`` becomes a semi join, which the planner's estimate of one row per CTE
makes a nested loop, quadratic in the batch: 1.2 s of a 1.4 s batch of 500 runs.)
#}
{% set root_key = root.key|ident %}
{% if mode == "copy" %}COPY ({% endif %}
WITH win AS MATERIALIZED (
    SELECT {{ m.cols("r", root.carry) }}
    FROM {{ "public"|ident }}.{{ root.table|ident }} AS r
{% if root.walk == "ctid" %}
    WHERE r.ctid >= %(from_tid)s::tid AND r.ctid < %(to_tid)s::tid
{% elif root.walk == "keyset" %}
    WHERE r.{{ root.keyset_column|ident }} < %(cutoff)s{% if has_cursor %} AND (r.{{ root.keyset_column|ident }}, r.{{ root_key }}) > (%(after_ts)s, %(after_key)s){% endif %}

    ORDER BY r.{{ root.keyset_column|ident }}, r.{{ root_key }}
    LIMIT %(limit)s
{% elif root.walk == "null_index" %}
    {# rows whose column is NULL, found through the index that leads with it (NULLs are in a btree) #}
    WHERE {% for c in root.only_null %}r.{{ c|ident }} IS NULL AND {% endfor %}r.{{ root.recency[0]|ident }} < %(cutoff)s{% if has_cursor %} AND r.{{ root_key }} > %(after_key)s{% endif %}

    ORDER BY r.{{ root_key }}
    LIMIT %(limit)s
{% else %}
    WHERE {% if has_cursor %}r.{{ root_key }} > %(after_key)s{% else %}TRUE{% endif %}

    ORDER BY r.{{ root_key }}
    LIMIT %(limit)s
{% endif %}
), cand AS MATERIALIZED (
    SELECT w.*, w.{{ root_key }} AS _root,
{% if rules %}
           CASE
{% for rule in rules %}
               WHEN ({{ m.keep_condition(rule, "w", probe=rule.probe) }}) THEN {{ loop.index }}
{% endfor %}
               ELSE 0
           END AS _kept
{% else %}
           0 AS _kept
{% endif %}
    FROM win AS w
    WHERE {{ m.expired("w", root.recency, root.only_null, root.scope_columns, root.filters) }}
{% if has_exclusions %}
      {# a redone batch leaves out the roots a concurrent write touched while it ran #}
      AND NOT (w.{{ root_key }}::text = ANY(%(excluded)s))
{% endif %}
){% for lv in levels_down %}, l{{ lv.n }} AS MATERIALIZED (
    {# every {{ lv.table }} row under a candidate no keep rule protects, located once #}
    SELECT t.ctid AS _ctid, {% if lv.parent %}p._ctid{% else %}NULL::tid{% endif %} AS _pctid, p._root{% for c in lv.carry %}, t.{{ c|ident }}{% endfor %},
           {% if lv.recency %}coalesce(t.{{ lv.recency|ident }} < %(cutoff)s, true){% else %}true{% endif %} AS _old,
           {% if lv.status %}coalesce(t.{{ lv.status[0]|ident }} = ANY(%({{ lv.status[1] }})s), false){% else %}true{% endif %} AS _ended
    FROM {% if lv.parent %}l{{ lv.parent }}{% else %}cand{% endif %} AS p
    JOIN {{ "public"|ident }}.{{ lv.table|ident }} AS t
      ON t.{{ lv.parent_column|ident }} = p.{{ lv.parent_key|ident }}
{% for child_col, parent_col in lv.match %}
     AND t.{{ child_col|ident }} = p.{{ parent_col|ident }}
{% endfor %}
{% for child_col, param in lv.match_values %}
     AND t.{{ child_col|ident }} = ANY(%({{ param }})s)
{% endfor %}
{% if not lv.parent %}
    WHERE p._kept = 0
{% endif %}
){% endfor %}, bad AS (
    {# a candidate with a descendant newer than the cutoff or not ended stays, whole #}
    SELECT c._root, 0 AS reason FROM cand AS c WHERE false
{% for lv in levels_down %}
    UNION ALL
    SELECT x._root, CASE WHEN NOT x._ended THEN {{ lv.reason_unfinished }} ELSE {{ lv.reason_newer }} END
    FROM l{{ lv.n }} AS x WHERE NOT (x._old AND x._ended)
{% endfor %}
), go AS MATERIALIZED (
    SELECT c.* FROM cand AS c
    WHERE c._kept = 0 AND c._root NOT IN (SELECT b._root FROM bad AS b)
){% for lv in levels_down %}, g{{ lv.n }} AS MATERIALIZED (
    SELECT x.* FROM l{{ lv.n }} AS x
    WHERE {% if lv.parent %}(x._pctid IN (SELECT y._ctid FROM g{{ lv.parent }} AS y)) IS TRUE{% else %}(x._root IN (SELECT go._root FROM go)) IS TRUE{% endif %}

{% if lv.reverse %}
      {# the root names this row (not the other way round): it stays while any root row left names it #}
      AND NOT EXISTS (
          SELECT 1 FROM {{ "public"|ident }}.{{ root.table|ident }} AS s
          WHERE s.{{ lv.parent_key|ident }} = x.{{ lv.parent_column|ident }}
            AND s.{{ root_key }} NOT IN (SELECT go._root FROM go))
{% endif %}
){% endfor %}
{% if mode == "count" %}
{% for lv in levels_down if lv.ledger_key %}, noted{{ lv.n }} AS (
    INSERT INTO {{ "dify_maintenance"|ident }}.{{ "dry_run_ledger"|ident }} (run_key, table_name, id)
    SELECT DISTINCT %(run_key)s, %(noted_{{ lv.n }})s, x.{{ lv.ledger_key|ident }}::text FROM g{{ lv.n }} AS x
    ON CONFLICT DO NOTHING
){% endfor %}
{% if root.ledger_key %}, noted0 AS (
    INSERT INTO {{ "dify_maintenance"|ident }}.{{ "dry_run_ledger"|ident }} (run_key, table_name, id)
    SELECT %(run_key)s, %(noted_0)s, go.{{ root.ledger_key|ident }}::text FROM go
    ON CONFLICT DO NOTHING
){% endif %}
{% else %}
{% for lv in levels_up %}, d{{ lv.n }} AS (
    DELETE FROM {{ "public"|ident }}.{{ lv.table|ident }} AS t
    WHERE t.ctid = ANY(ARRAY(
              SELECT x._ctid FROM g{{ lv.n }} AS x
{% for c in lv.children %}
              {{ "WHERE" if loop.first else "AND" }} x._ctid NOT IN (
                  {# found minus deleted: a row found below it that did not go keeps it #}
                  SELECT y._pctid FROM g{{ c }} AS y WHERE y._ctid NOT IN (SELECT z._ctid FROM d{{ c }} AS z))
{% endfor %}
          ))
      {# judged again on the live row: a row a live Dify changed since the statement began #}
{% if lv.recency %}
      AND coalesce(t.{{ lv.recency|ident }} < %(cutoff)s, true)
{% endif %}
{% if lv.status %}
      AND coalesce(t.{{ lv.status[0]|ident }} = ANY(%({{ lv.status[1] }})s), false)
{% endif %}
    RETURNING t.ctid AS _ctid{% if mode == "copy" %}, row_to_json(t)::text AS _row{% endif %}

){% endfor %}, d0 AS (
    DELETE FROM {{ "public"|ident }}.{{ root.table|ident }} AS t
    WHERE t.{{ root_key }} = ANY(ARRAY(
              SELECT go._root FROM go
{% for c in root.children %}
              {{ "WHERE" if loop.first else "AND" }} go._root NOT IN (
                  SELECT y._root FROM g{{ c }} AS y WHERE y._ctid NOT IN (SELECT z._ctid FROM d{{ c }} AS z))
{% endfor %}
          ))
      AND {{ m.expired("t", root.recency, root.only_null, root.scope_columns, root.filters) }}
{% if root.status_rule %}
      AND NOT ({{ m.keep_condition(root.status_rule, "t") }})
{% endif %}
    RETURNING t.{{ root_key }} AS _root{% if mode == "copy" %}, row_to_json(t)::text AS _row{% endif %}

)
{% endif %}
, summary AS (
    SELECT json_build_object(
        'scanned', (SELECT count(*) FROM win),
        'matched', (SELECT count(*) FROM cand),
{% if root.walk != "ctid" %}
        'last', (SELECT json_build_array({% if root.walk == "keyset" %}w.{{ root.keyset_column|ident }}{% else %}NULL{% endif %}, w.{{ root_key }}::text)
                 FROM win AS w ORDER BY {% if root.walk == "keyset" %}w.{{ root.keyset_column|ident }} DESC, {% endif %}w.{{ root_key }} DESC LIMIT 1),
{% endif %}
        'kept', (SELECT json_object_agg(k._kept, k.n) FROM (SELECT _kept, count(*) AS n FROM cand WHERE _kept > 0 GROUP BY 1) AS k),
        'bad_by', (SELECT json_object_agg(r.reason, r.n) FROM (SELECT q.reason, count(*) AS n FROM (SELECT min(reason) AS reason FROM bad GROUP BY _root) AS q GROUP BY q.reason) AS r),
        'go', (SELECT json_agg(go._root::text) FROM go),
{% if mode == "count" %}
        'deleted', json_build_object('0', (SELECT count(*) FROM go){% for lv in levels_down %}, '{{ lv.n }}', (SELECT count(DISTINCT x._ctid) FROM g{{ lv.n }} AS x){% endfor %})
{% else %}
        'deleted', json_build_object('0', (SELECT count(*) FROM d0){% for lv in levels_down %}, '{{ lv.n }}', (SELECT count(*) FROM d{{ lv.n }}){% endfor %}),
        {# what the re-check needs: the values the children of each deleted row would name it by, with its root #}
        'keys', json_build_object(
            '0', (SELECT json_agg(json_build_array(go._root::text{% for c in root.key_columns %}, go.{{ c|ident }}::text{% endfor %}))
                  FROM go WHERE (go._root IN (SELECT d0._root FROM d0)) IS TRUE)
{% for lv in levels_down if lv.key_columns %}
            , '{{ lv.n }}', (SELECT json_agg(json_build_array(x._root::text{% for c in lv.key_columns %}, x.{{ c|ident }}::text{% endfor %}))
                  FROM g{{ lv.n }} AS x WHERE (x._ctid IN (SELECT d._ctid FROM d{{ lv.n }} AS d)) IS TRUE)
{% endfor %}
        )
{% endif %}
    ) AS s
)
{% if mode == "copy" %}
{# children before parents (the archive's manifest lists them so; a restore goes the other way).
   A row over %(piece)s characters goes out in pieces (the last one marked), so no line of the
   stream, and no buffer of the client library, holds a 50 MB row whole. #}
{% macro rows(tag, d) -%}
SELECT {{ tag }} AS tag, true AS last, {{ d }}._row AS line FROM {{ d }} WHERE octet_length({{ d }}._row) <= %(piece)s
UNION ALL
SELECT {{ tag }}, x.last, x.line
FROM {{ d }}
CROSS JOIN LATERAL (
    SELECT g.i = g.n AS last, substr({{ d }}._row, (g.i - 1) * %(piece)s + 1, %(piece)s) AS line
    FROM (SELECT i, (length({{ d }}._row) + %(piece)s - 1) / %(piece)s AS n
          FROM generate_series(1, (length({{ d }}._row) + %(piece)s - 1) / %(piece)s) AS i) AS g
) AS x
WHERE octet_length({{ d }}._row) > %(piece)s
{%- endmacro %}
{% for lv in levels_up %}
{{ rows(lv.n, "d" ~ lv.n) }}
UNION ALL
{% endfor %}
{{ rows(0, "d0") }}
UNION ALL
SELECT -1, true, s::text FROM summary
) TO STDOUT
{% else %}
SELECT s FROM summary
{% endif %}
