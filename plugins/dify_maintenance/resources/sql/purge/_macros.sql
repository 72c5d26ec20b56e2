{# Shared fragments of the purge statements. Identifiers arrive as catalog names and are quoted
   with the ident filter; every value is a bind placeholder. #}

{% macro cols(alias, names) -%}
{% for c in names %}{{ alias }}.{{ c|ident }}{{ ", " if not loop.last }}{% endfor %}
{%- endmacro %}

{% macro names(names) -%}
{% for c in names %}{{ c|ident }}{{ ", " if not loop.last }}{% endfor %}
{%- endmacro %}

{% macro path_tables(path) -%}
{% for step in path %}{{ "public"|ident }}.{{ step.table|ident }} AS t{{ loop.index }}{{ ", " if not loop.last }}{% endfor %}
{%- endmacro %}

{# Join a path of child tables t1..tn to its anchor row (the candidate batch, alias c). #}
{% macro path_join(path, anchor) -%}
{% for step in path %}
{% set i = loop.index %}
{% set prev = anchor if loop.first else "t" ~ (i - 1) %}
{{ "AND " if not loop.first }}t{{ i }}.{{ step.parent_column|ident }} = {{ prev }}.{{ step.parent_key|ident }}
{% for child_col, parent_col in step.match %}
AND t{{ i }}.{{ child_col|ident }} = {{ prev }}.{{ parent_col|ident }}
{% endfor %}
{% for child_col, param in step.match_values %}
AND t{{ i }}.{{ child_col|ident }} = ANY(%({{ param }})s)
{% endfor %}
{% endfor %}
{%- endmacro %}

{# Tenant and app scope of a root row; tenants reach rows without tenant_id through apps. #}
{% macro scope(alias, scope_columns, filters) -%}
{% if filters.tenant_ids %}
AND {% if "tenant_id" in scope_columns %}{{ alias }}.tenant_id = ANY(%(tenant_ids)s){% else %}{{ alias }}.app_id IN (SELECT a.id FROM {{ "public"|ident }}.apps AS a WHERE a.tenant_id = ANY(%(tenant_ids)s)){% endif %}
{% endif %}
{% if filters.exclude_tenant_ids %}
AND NOT {% if "tenant_id" in scope_columns %}({{ alias }}.tenant_id = ANY(%(exclude_tenant_ids)s)){% else %}({{ alias }}.app_id IN (SELECT a.id FROM {{ "public"|ident }}.apps AS a WHERE a.tenant_id = ANY(%(exclude_tenant_ids)s))){% endif %}
{% endif %}
{% if filters.app_ids %}
AND {{ alias }}.app_id = ANY(%(app_ids)s)
{% endif %}
{% if filters.exclude_app_ids %}
AND ({{ alias }}.app_id IS NULL OR NOT ({{ alias }}.app_id = ANY(%(exclude_app_ids)s)))
{% endif %}
{%- endmacro %}

{# A root row is expired when all its recency columns are older than the cutoff, the columns that
   must be null are, and it is in the tenant/app scope. #}
{% macro expired(alias, recency, only_null, scope_columns, filters) -%}
TRUE
{% for c in recency %}
  AND {{ alias }}.{{ c|ident }} < %(cutoff)s
{% endfor %}
{% for c in only_null %}
  AND {{ alias }}.{{ c|ident }} IS NULL
{% endfor %}
  {{ scope(alias, scope_columns, filters) }}
{%- endmacro %}

{# The condition under which a keep rule protects candidate row `anchor` (status still in flight,
   still referenced, or with a curated or newer descendant). Shared by the purge and by verify. #}
{# `probe`: the same test as a per-row scalar subquery that the planner cannot turn into a hash of
   the whole table (an EXISTS under OR becomes a "hashed SubPlan" reading all of it). #}
{% macro exists_open(probe) -%}{% if probe %}(SELECT true{% else %}EXISTS (SELECT 1{% endif %}{%- endmacro %}
{% macro exists_close(probe) -%}{% if probe %} LIMIT 1) IS NOT NULL{% else %}){% endif %}{%- endmacro %}

{% macro keep_condition(rule, anchor, probe=False) -%}
{% if rule.kind == "status" %}
{{ anchor }}.{{ rule.status_column|ident }} IS NULL OR NOT ({{ anchor }}.{{ rule.status_column|ident }} = ANY(%(statuses)s))
{% elif rule.kind == "month_index" %}
{{ exists_open(probe) }}
    FROM {{ "public"|ident }}.{{ rule.ref_table|ident }} AS b
    WHERE b.tenant_id = {{ anchor }}.tenant_id
      AND b.year = extract(year FROM {{ anchor }}.created_at)::int
      AND b.month = extract(month FROM {{ anchor }}.created_at)::int
{{ exists_close(probe) }}
{% elif rule.kind == "group" %}
{{ exists_open(probe) }}
    FROM {{ "public"|ident }}.{{ rule.ref_table|ident }} AS s
    WHERE s.{{ rule.ref_column|ident }} = {{ anchor }}.{{ rule.ref_column|ident }}
      AND s.{{ rule.newer_column|ident }} >= %(cutoff)s
{{ exists_close(probe) }}
{% elif rule.kind == "reference" %}
{{ exists_open(probe) }}
    FROM {{ "public"|ident }}.{{ rule.ref_table|ident }} AS x
    WHERE x.{{ rule.ref_column|ident }} = {{ anchor }}.{{ rule.key|ident }}
    {% if rule.role_column %}AND x.{{ rule.role_column|ident }} = %({{ rule.role_param }})s{% endif %}
    {% if rule.ledger_key %}
    {# dry run: a row this run would delete keeps nothing alive #}
    AND NOT EXISTS (
        SELECT 1 FROM {{ "dify_maintenance"|ident }}.{{ "dry_run_ledger"|ident }} AS l
        WHERE l.run_key = %(run_key)s AND l.table_name = %({{ rule.ledger_param }})s
          AND l.id = x.{{ rule.ledger_key|ident }}::text
    )
    {% endif %}
{{ exists_close(probe) }}
{% else %}
{{ exists_open(probe) }}
    FROM {{ path_tables(rule.path) }}
    WHERE {{ path_join(rule.path, anchor) }}
    {% if rule.newer_column %}AND t{{ rule.path|length }}.{{ rule.newer_column|ident }} >= %(cutoff)s{% endif %}
    {% if rule.status %}AND (t{{ rule.path|length }}.{{ rule.status[0]|ident }} IS NULL OR NOT (t{{ rule.path|length }}.{{ rule.status[0]|ident }} = ANY(%({{ rule.status[1] }})s))){% endif %}
{{ exists_close(probe) }}
{% endif %}
{%- endmacro %}
