-- A node execution for an old run, as Dify writes one: a copy of a template node re-parented
-- under the run with the run's own tenant, app and workflow (the columns a composite index and
-- the purge's lookups rely on), dated now.
INSERT INTO {{ "public"|ident }}.workflow_node_executions
SELECT (jsonb_populate_record(NULL::{{ "public"|ident }}.workflow_node_executions,
    to_jsonb(n) || jsonb_build_object('id', gen_random_uuid()::text, 'workflow_run_id', r.id::text,
                                      'tenant_id', r.tenant_id::text, 'app_id', r.app_id::text,
                                      'workflow_id', r.workflow_id::text, 'created_at', %(now)s::text))).*
FROM (SELECT * FROM {{ "public"|ident }}.workflow_node_executions AS n
      WHERE n.workflow_run_id = %(template)s ORDER BY n.index LIMIT 1) AS n,
     {{ "public"|ident }}.workflow_runs AS r
WHERE r.id = %(id)s
RETURNING id
