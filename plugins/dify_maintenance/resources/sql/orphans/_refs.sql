{# How Dify rows name stored files, shared by the reference searches of dify_orphaned_files.
   Patterns arrive as bind parameters (files/filerefs.py). #}

{# A storage key as OpenDAL lists it: no leading slash, no doubled slashes (the regex only for the
   rare key that needs it). #}
{% macro norm_key(expr) -%}
CASE WHEN strpos({{ expr }}, '//') > 0 OR left({{ expr }}, 1) = '/'
     THEN regexp_replace(ltrim({{ expr }}, '/'), '/{2,}', '/', 'g') ELSE {{ expr }} END
{%- endmacro %}

{# Every file a text value names, one row (id, key) each: a file id anywhere in it, and the
   record id and storage key inside a dify-file-ref (base64url of JSON, padding optional; a body of
   impossible length is skipped, never an error), in one pass; a "storage_key" field of a File
   object, looked for only in values that hold the word (strpos is far cheaper than a regex). #}
{% macro mentions(val) -%}
SELECT CASE WHEN g.m[1] IS NOT NULL THEN lower(g.m[1])::uuid
            ELSE lower(substring(r.body FROM %(record_id_pattern)s))::uuid END AS id,
       {{ norm_key("substring(r.body FROM %(storage_key_pattern)s)") }} AS key
FROM regexp_matches({{ val }}, %(mention_pattern)s, 'g') AS g (m)
CROSS JOIN LATERAL (
    SELECT CASE WHEN g.m[2] IS NOT NULL AND mod(length(g.m[2]), 4) <> 1
                THEN encode(decode(rpad(translate(g.m[2], '-_', '+/'), (length(g.m[2]) + 3) / 4 * 4, '='), 'base64'), 'escape')
           END AS body
) AS r
UNION ALL
SELECT NULL::uuid, {{ norm_key("k.m[1]") }}
FROM regexp_matches({{ val }}, %(storage_key_pattern)s, 'g') AS k (m)
WHERE strpos({{ val }}, 'storage_key') > 0
{%- endmacro %}

{# The files a row (alias t) names through ``columns`` (each {name, form}), numbered by column: a
   uuid column's value is the id, an id column in text is checked to be one, a text column is
   searched (read once: OFFSET 0 keeps the planner from copying the column into every test of
   it, each of which would read a TOASTed value again). #}
{% macro row_mentions(columns) -%}
CROSS JOIN LATERAL (
{% for col in columns %}
{% set c = "t." ~ (col.name|ident) %}
{% if col.form == "uuid" %}
    SELECT {{ loop.index }} AS n, {{ c }} AS id, NULL::text AS key WHERE {{ c }} IS NOT NULL
{% elif col.form == "id" %}
    SELECT {{ loop.index }} AS n, lower({{ c }}::text)::uuid AS id, NULL::text AS key
    WHERE {{ c }}::text ~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
{% else %}
    SELECT {{ loop.index }} AS n, x.id, x.key
    FROM (SELECT {{ c }}::text || '' AS val OFFSET 0) AS v
    CROSS JOIN LATERAL ({{ mentions("v.val") }}) AS x
    WHERE v.val IS NOT NULL
{% endif %}
{{ "UNION ALL" if not loop.last }}
{% endfor %}
) AS f
{%- endmacro %}

{# Rows changed since the run's reference scan began: written by a transaction the scan's first
   snapshot did not see (its xmin at or after that snapshot's xmin). #}
{% macro changed_since(alias) -%}
age({{ alias }}.xmin) <= age(%(since_xid)s::text::xid)
{%- endmacro %}

{# Mark the run's unreferenced candidates that ``named`` (rows n, id, key) names, by file id or
   by key; ``label`` is the SQL expression of the source's name for row n. #}
{% macro mark(named, label, batch) -%}
WITH named AS MATERIALIZED (
{{ named }}
), hits AS (
    SELECT c.id, min(named.n) AS n
    FROM dify_maintenance.file_candidates AS c
    JOIN named ON named.id = c.file_id
    WHERE c.run_key = %(run_key)s AND c.referenced_by IS NULL{% if batch %} AND c.id = ANY(%(batch)s){% endif %}

    GROUP BY c.id
    UNION ALL
    SELECT c.id, min(named.n)
    FROM dify_maintenance.file_candidates AS c
    JOIN named ON named.key = c.key
    WHERE c.run_key = %(run_key)s AND c.referenced_by IS NULL{% if batch %} AND c.id = ANY(%(batch)s){% endif %}

    GROUP BY c.id
)
UPDATE dify_maintenance.file_candidates AS c
SET referenced_by = {{ label }}
FROM (SELECT id, min(n) AS n FROM hits GROUP BY id) AS h
WHERE c.id = h.id
{%- endmacro %}

{# Keys whose object a live row names as such: the file rows, a paused run's state, a dataset's
   keyword file, a website crawl's cache (named by the documents made from that crawl). #}
{% macro named_keys(has_tool_files, has_pauses, has_datasets, has_documents) -%}
SELECT {{ norm_key("u.key") }} AS key FROM {{ "public"|ident }}.{{ "upload_files"|ident }} AS u
{% if has_tool_files %}
UNION ALL
SELECT {{ norm_key("t.file_key") }} FROM {{ "public"|ident }}.{{ "tool_files"|ident }} AS t
{% endif %}
{% if has_pauses %}
UNION ALL
SELECT {{ norm_key("p.state_object_key") }} FROM {{ "public"|ident }}.{{ "workflow_pauses"|ident }} AS p
{% endif %}
{% if has_datasets %}
UNION ALL
SELECT 'keyword_files/' || d.tenant_id || '/' || d.id || '.txt' FROM {{ "public"|ident }}.{{ "datasets"|ident }} AS d
{% endif %}
{% if has_documents %}
UNION ALL
SELECT 'website_files/' || substring(d.data_source_info FROM '"job_id"\s*:\s*"([^"]+)"') || '.txt'
FROM {{ "public"|ident }}.{{ "documents"|ident }} AS d
WHERE d.data_source_type = 'website_crawl'
{% endif %}
{%- endmacro %}
