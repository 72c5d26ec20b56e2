{% import "purge/_macros.sql" as m %}
{% if mode == "count" and ledger_key %}
{# a dry run also notes the orphans of a table that a later keep rule of the run reads #}
WITH noted AS (
    INSERT INTO {{ "dify_maintenance"|ident }}.{{ "dry_run_ledger"|ident }} (run_key, table_name, id)
    SELECT %(run_key)s, %(ledger_table)s, o.{{ ledger_key|ident }}::text FROM {{ cand|ident }} AS o
    ON CONFLICT DO NOTHING
)
SELECT count(*) AS n FROM {{ cand|ident }}
{% elif mode == "count" %}
SELECT count(*) AS n FROM {{ cand|ident }}
{% else %}
{% if mode == "copy" %}COPY ({% endif %}
DELETE FROM {{ "public"|ident }}.{{ table|ident }} AS t
USING {{ cand|ident }} AS o
WHERE {% for k in keys %}t.{{ k|ident }} = o.{{ k|ident }}{{ " AND " if not loop.last }}{% endfor %}
{% if mode == "copy" %}
RETURNING t.*) TO STDOUT
{% endif %}
{% endif %}
