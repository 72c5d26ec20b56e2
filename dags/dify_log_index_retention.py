"""
### Dify workflow-log index retention (weekly)

Drops whole monthly indices of `dify_log_migration` (and of Dify's own Elasticsearch
repositories: same names) whose month ended more than *retention_days* ago: the guide's
`ELASTICSEARCH_RETENTION_DAYS`, one index DELETE per month instead of delete-by-query. Only
indices named `<prefix>-workflow-{runs,app-logs,node-executions}-...-<YYYY.MM>` are touched.

**A dry run by default**: a real run needs *dry_run* off and the cluster's name typed into
*confirm_cluster* (a dry run's report prints it). Scheduled runs stay dry runs until the Airflow
Variable `dify_maintenance_log_index_retention` holds, for example,
`{"dry_run": false, "confirm_cluster": "<cluster name>"}`. **report** lists what went (or would
go) into the history, the run's note and the maintenance page.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag

from dify_maintenance.airflow.alerts import MaintenanceFailureNotifier
from dify_maintenance.airflow.params import params_for
from dify_maintenance.airflow.tasks import logs as t
from dify_maintenance.logstore.forms import LOG_INDEX_RETENTION_FORM


@dag(
    dag_id="dify_log_index_retention",
    schedule="0 4 * * 0",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["dify", "maintenance", "logs"],
    doc_md=__doc__,
    params=params_for(LOG_INDEX_RETENTION_FORM),
    on_failure_callback=MaintenanceFailureNotifier("Dify log index retention run failed"),
    default_args={"owner": "data-platform", "retries": 2, "retry_delay": timedelta(minutes=5)},
)
def dify_log_index_retention():
    t.drop_expired_indices() >> t.report_index_retention()


dify_log_index_retention()
