{% import "purge/_macros.sql" as m %}
{% if mode == "count" %}
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
