-- Dify 1.8 clean_workflow_runlogs_precise: the next ids older than the cutoff, no cursor.
SELECT id FROM {{ "public"|ident }}.workflow_runs WHERE created_at < %(cutoff)s LIMIT %(limit)s
