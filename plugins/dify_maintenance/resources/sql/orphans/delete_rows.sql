{# copy: delete and stream the deleted rows out for the archive in one statement; else plain delete #}
{% if copy %}COPY ({% endif %}
DELETE FROM {{ "public"|ident }}.{{ table|ident }} AS f
WHERE f.id = ANY(%(file_ids)s)
{% if has_created_at %}
  AND f.created_at < %(row_cutoff)s
{% endif %}
{% if copy %}
RETURNING f.*) TO STDOUT
{% endif %}
