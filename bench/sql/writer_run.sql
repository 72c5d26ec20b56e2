-- The concurrent writer: a copy of a recent run with a new id and "now" as its age, the way a
-- live Dify starts a workflow run. Generic over versions: the row goes through jsonb.
INSERT INTO {{ "public"|ident }}.workflow_runs
SELECT * FROM jsonb_populate_record(NULL::{{ "public"|ident }}.workflow_runs,
    (SELECT to_jsonb(r) || jsonb_build_object('id', %(id)s::text, 'created_at', %(now)s::text)
     FROM {{ "public"|ident }}.workflow_runs AS r WHERE r.id = %(template)s))
