-- The writer's node executions: copies of the template run's first nodes, attached to the new run.
INSERT INTO {{ "public"|ident }}.workflow_node_executions
SELECT (jsonb_populate_record(NULL::{{ "public"|ident }}.workflow_node_executions,
    to_jsonb(n) || jsonb_build_object('id', gen_random_uuid()::text, 'workflow_run_id', %(id)s::text,
                                      'created_at', %(now)s::text))).*
FROM (SELECT * FROM {{ "public"|ident }}.workflow_node_executions AS n
      WHERE n.workflow_run_id = %(template)s ORDER BY n.index LIMIT %(nodes)s) AS n
RETURNING id
