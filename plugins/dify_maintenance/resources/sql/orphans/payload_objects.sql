{% import "orphans/_refs.sql" as r %}
-- Objects whose content names files, while a live row points at them (files/filerefs.py,
-- PAYLOADS), that this run has not read yet; ``since``: only those of rows changed since the scan
-- began. n numbers the payload kind (1-based, in PAYLOADS order).
SELECT p.n, p.key
FROM (
    SELECT NULL::int AS n, NULL::text AS key WHERE false
{% if has_offloads %}
    UNION ALL
    SELECT 1, {{ r.norm_key("u.key") }}
    FROM {{ "public"|ident }}.{{ "workflow_node_execution_offload"|ident }} AS o
    JOIN {{ "public"|ident }}.{{ "upload_files"|ident }} AS u ON u.id = o.file_id
    {% if since %}WHERE {{ r.changed_since("o") }} OR {{ r.changed_since("u") }}{% endif %}

{% endif %}
{% if has_draft_files %}
    UNION ALL
    SELECT 2, {{ r.norm_key("u.key") }}
    FROM {{ "public"|ident }}.{{ "workflow_draft_variable_files"|ident }} AS f
    JOIN {{ "public"|ident }}.{{ "upload_files"|ident }} AS u ON u.id = f.upload_file_id
    {% if since %}WHERE {{ r.changed_since("f") }} OR {{ r.changed_since("u") }}{% endif %}

{% endif %}
{% if has_pauses %}
    UNION ALL
    SELECT 3, {{ r.norm_key("w.state_object_key") }}
    FROM {{ "public"|ident }}.{{ "workflow_pauses"|ident }} AS w
    {% if since %}WHERE {{ r.changed_since("w") }}{% endif %}

{% endif %}
) AS p
WHERE NOT EXISTS (SELECT 1 FROM dify_maintenance.file_payloads AS d WHERE d.run_key = %(run_key)s AND d.key = p.key)
ORDER BY p.key
