-- Written in the same transaction as the batch it describes: progress and deletions commit together.
INSERT INTO dify_maintenance.progress AS p (run_key, family, stage, cursor, done, batches, seconds, counters)
VALUES (%(run_key)s, %(family)s, %(stage)s, %(cursor)s, %(done)s, %(batches)s, %(seconds)s, %(counters)s)
ON CONFLICT (run_key, family, stage) DO UPDATE
    SET cursor = EXCLUDED.cursor, done = EXCLUDED.done, batches = EXCLUDED.batches,
        seconds = EXCLUDED.seconds, counters = EXCLUDED.counters, updated_at = now()
