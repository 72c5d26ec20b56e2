-- Where a ctid walk ends (the table's blocks when it starts; rows written later are newer than
-- the cutoff anyway) and how many rows a block holds, to turn a batch size into a block range.
SELECT (pg_relation_size(c.oid) / current_setting('block_size')::int)::bigint AS blocks,
       CASE WHEN c.relpages > 0 AND c.reltuples > 0 THEN c.reltuples / c.relpages ELSE 0 END AS rows_per_block
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relname = %(table)s
