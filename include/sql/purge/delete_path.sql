{% import "purge/_macros.sql" as m %}
{% set n = path|length %}
{# count: what a dry run reports; delete: archive off; copy: delete and stream the deleted rows
   out as COPY text in the same statement, so what is archived is exactly what was deleted. #}
{% if mode == "count" %}
SELECT count(*) AS n
FROM {{ cand|ident }} AS c{% if n %}, {{ m.path_tables(path) }}{% endif %}

WHERE {% if n %}{{ m.path_join(path, "c") }}{% else %}TRUE{% endif %}
{% else %}
{% if mode == "copy" %}COPY ({% endif %}
DELETE FROM {{ "public"|ident }}.{{ table|ident }} AS t{{ n }}
USING {{ cand|ident }} AS c{% for step in path[:-1] %}, {{ "public"|ident }}.{{ step.table|ident }} AS t{{ loop.index }}{% endfor %}

WHERE {% if n %}{{ m.path_join(path, "c") }}{% else %}t0.{{ key|ident }} = c.{{ key|ident }}{% endif %}
{% if mode == "copy" %}
RETURNING t{{ n }}.*) TO STDOUT
{% endif %}
{% endif %}
