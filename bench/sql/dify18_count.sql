-- Dify 1.8 counts every expired run before it starts.
SELECT count(*) AS n FROM {{ "public"|ident }}.workflow_runs WHERE created_at < %(cutoff)s
