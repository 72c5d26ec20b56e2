{% import "purge/_macros.sql" as m %}
-- Child rows older than the cutoff whose parent is gone, in the run's tenant/app scope (by the
-- child row's own columns): the purge and its orphan sweep leave none.
SELECT count(*) AS orphans
FROM {{ "public"|ident }}.{{ table|ident }} AS t
WHERE t.{{ recency|ident }} < %(cutoff)s
  AND ({% if null_is_orphan %}t.{{ parent_column|ident }} IS NULL OR {% endif %}(t.{{ parent_column|ident }} IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM {{ "public"|ident }}.{{ parent_table|ident }} AS p WHERE p.{{ parent_key|ident }} = t.{{ parent_column|ident }})))
  {{ m.scope("t", scope_columns, filters) }}
