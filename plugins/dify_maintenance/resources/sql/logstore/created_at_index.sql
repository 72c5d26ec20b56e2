-- A valid index that leads with created_at: without one, each segment of a stream reads the
-- whole table.
SELECT i.indexrelid::regclass::text AS name
FROM pg_index AS i
JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE i.indrelid = %(table)s::regclass AND a.attname = 'created_at' AND i.indisvalid
LIMIT 1
