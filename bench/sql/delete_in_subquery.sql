-- Dify's grandchild delete: rows of `table` whose `column` names a child of the batch's rows.
DELETE FROM {{ "public"|ident }}.{{ table|ident }}
WHERE {{ column|ident }} IN (
    SELECT s.id FROM {{ "public"|ident }}.{{ sub_table|ident }} AS s WHERE s.{{ sub_column|ident }} = ANY(%(ids)s)
)
