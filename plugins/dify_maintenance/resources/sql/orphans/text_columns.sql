-- Every column of Dify's tables with its type, for the catalog of reference sources.
SELECT c.table_name, c.column_name, c.data_type, c.character_maximum_length AS max_length
FROM information_schema.columns AS c
JOIN information_schema.tables AS t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
ORDER BY c.table_name, c.ordinal_position
