-- The columns of a workflow-log table, in table order: a document carries every one of them.
SELECT a.attname AS name
FROM pg_attribute AS a
WHERE a.attrelid = %(table)s::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
