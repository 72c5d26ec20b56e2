INSERT INTO dify_maintenance.history (run_key, dag_id, outcome, report)
VALUES (%(run_key)s, %(dag_id)s, %(outcome)s, %(report)s)
RETURNING id
