-- Has this DAG run against this database before (any outcome, dry runs included)?
SELECT EXISTS (
    SELECT 1 FROM dify_maintenance.runs WHERE dag_id = %(dag_id)s AND run_key <> %(run_key)s
) AS found
