-- Rows written while the run purged (or just put back from its archive) that name a parent row
-- that is gone: a live Dify wrote under a parent in the instant between the batch's re-check and
-- its commit. Verify puts such a parent back from the run's archive, or names the row.
SELECT t.{{ child_key|ident }}::text AS child, t.{{ column|ident }}::text AS parent
FROM {{ "public"|ident }}.{{ table|ident }} AS t
WHERE t.{{ column|ident }} IS NOT NULL
{% if role_column %}
  AND t.{{ role_column|ident }} = %(role)s
{% endif %}
  AND ({% if recency %}t.{{ recency|ident }} > %(since)s OR {% endif %}t.{{ child_key|ident }}::text = ANY(%(restored)s))
  AND NOT EXISTS (
        SELECT 1 FROM {{ "public"|ident }}.{{ parent_table|ident }} AS p
        WHERE p.{{ parent_key|ident }} = t.{{ column|ident }})
ORDER BY 1
LIMIT 1000
