{% import "purge/_macros.sql" as m %}
{% set n = path|length %}
{# count: what a dry run reports; delete: archive off; copy: delete and stream the deleted rows
   out as COPY text in the same statement, so what is archived is exactly what was deleted.
   A child row is deleted only while older than the cutoff; a root only while still expired, in
   an ended status, unreferenced, and with nothing left under it (a concurrent write since the
   batch began). What this statement skips, the batch's re-check (offenders.sql) turns into a redo. #}
{% if mode == "count" and ledger_key %}
{# a dry run also notes the rows of a table that a later keep rule of the run reads #}
WITH gone AS (
    SELECT {% if n %}t{{ n }}.{{ ledger_key|ident }}{% else %}c.{{ key|ident }}{% endif %}::text AS id
    FROM {{ cand|ident }} AS c{% if n %}, {{ m.path_tables(path) }}{% endif %}

    WHERE {% if n %}{{ m.path_join(path, "c") }} AND {{ m.deletable("t" ~ n, recency, [], status) }}{% else %}TRUE{% endif %}
), noted AS (
    INSERT INTO {{ "dify_maintenance"|ident }}.{{ "dry_run_ledger"|ident }} (run_key, table_name, id)
    SELECT %(run_key)s, %(ledger_table)s, id FROM gone
    ON CONFLICT DO NOTHING
)
SELECT count(*) AS n FROM gone
{% elif mode == "count" %}
SELECT count(*) AS n
FROM {{ cand|ident }} AS c{% if n %}, {{ m.path_tables(path) }}{% endif %}

WHERE {% if n %}{{ m.path_join(path, "c") }} AND {{ m.deletable("t" ~ n, recency, [], status) }}{% else %}TRUE{% endif %}
{% else %}
{% if mode == "copy" %}COPY ({% endif %}
DELETE FROM {{ "public"|ident }}.{{ table|ident }} AS t{{ n }}
USING {{ cand|ident }} AS c{% for step in path[:-1] %}, {{ "public"|ident }}.{{ step.table|ident }} AS t{{ loop.index }}{% endfor %}

WHERE {% if n %}{{ m.path_join(path, "c") }}
  AND {{ m.deletable("t" ~ n, recency, children, status) }}
{% else %}t0.{{ key|ident }} = c.{{ key|ident }}
  AND {{ m.expired("t0", root_recency, only_null, scope_columns, filters) }}
  AND {{ m.deletable("t0", None, children) }}
{% for rule in guards %}
  AND NOT ({{ m.keep_condition(rule, "t0") }})
{% endfor %}
{% endif %}
{% if mode == "copy" %}
RETURNING t{{ n }}.*) TO STDOUT
{% endif %}
{% endif %}
