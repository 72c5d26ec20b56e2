{# The rows a migration covers: its window on created_at and, when given, its tenants. #}
{% macro scope(tenants) %}
created_at >= %(lo)s AND created_at < %(hi)s
{% if tenants %}
  AND tenant_id = ANY(%(tenants)s::uuid[])
{% endif %}
{% endmacro %}
