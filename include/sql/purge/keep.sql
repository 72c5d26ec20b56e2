{% import "purge/_macros.sql" as m %}
-- Take out of the batch the candidates one keep rule protects, and count them for the report.
WITH kept AS (
    DELETE FROM {{ cand|ident }} AS c
    WHERE
    {% if kind == "status" %}
        c.{{ status_column|ident }} IS NULL OR NOT (c.{{ status_column|ident }} = ANY(%(statuses)s))
    {% elif kind == "reference" %}
        EXISTS (
            SELECT 1 FROM {{ "public"|ident }}.{{ ref_table|ident }} AS x
            WHERE x.{{ ref_column|ident }} = c.{{ key|ident }}
            {% if role_column %}AND x.{{ role_column|ident }} = %(role_value)s{% endif %}
        )
    {% elif kind == "descendant" %}
        EXISTS (
            SELECT 1 FROM {{ m.path_tables(path) }}
            WHERE {{ m.path_join(path, "c") }}
            {% if newer_column %}AND t{{ path|length }}.{{ newer_column|ident }} >= %(cutoff)s{% endif %}
        )
    {% endif %}
    RETURNING 1
)
SELECT count(*) AS kept FROM kept
