-- A batch's progress and the keys of the rows it deleted that other rows may name (verify
-- checks, for every reference, that no row left names one), in one statement of the batch's
-- own transaction: progress, deletions and this record commit together.
WITH noted AS (
    INSERT INTO dify_maintenance.deleted_keys (run_key, table_name, key)
    SELECT %(run_key)s, d.table_name, d.key
    FROM unnest(%(deleted_tables)s::text[], %(deleted_keys)s::text[]) AS d (table_name, key)
    ON CONFLICT DO NOTHING
)
INSERT INTO dify_maintenance.progress AS p (run_key, family, stage, cursor, done, batches, seconds, counters)
VALUES (%(run_key)s, %(family)s, %(stage)s, %(cursor)s, %(done)s, %(batches)s, %(seconds)s, %(counters)s)
ON CONFLICT (run_key, family, stage) DO UPDATE
    SET cursor = EXCLUDED.cursor, done = EXCLUDED.done, batches = EXCLUDED.batches,
        seconds = EXCLUDED.seconds, counters = EXCLUDED.counters, updated_at = now()
