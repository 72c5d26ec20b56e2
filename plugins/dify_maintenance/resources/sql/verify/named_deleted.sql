-- Rows left that name a row this run deleted through a reference (not an owning edge: a
-- remaining message naming a workflow run its older sibling took along, a conversation's
-- message, an end user's run), where that row is still gone (the check right after a batch may
-- have put it back). The batch's re-check makes these impossible up to its commit; this is the
-- check over the whole run. A parent named here is put back from the run's archive.
SELECT x.{{ child_key|ident }}::text AS child, x.{{ column|ident }}::text AS parent
FROM dify_maintenance.deleted_keys AS d
JOIN {{ "public"|ident }}.{{ table|ident }} AS x ON x.{{ column|ident }} = d.key::{{ column_type }}
WHERE d.run_key = %(run_key)s AND d.table_name = %(parent_table)s
{% if role_column %}
  AND x.{{ role_column|ident }} = %(role)s
{% endif %}
  AND NOT EXISTS (
        SELECT 1 FROM {{ "public"|ident }}.{{ parent_table|ident }} AS p
        WHERE p.{{ parent_key|ident }} = x.{{ column|ident }})
ORDER BY 1
LIMIT 1000
