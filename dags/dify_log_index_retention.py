"""
### Dify workflow-log index retention (weekly)

Drops whole monthly indices of `dify_log_migration` (and of Dify's own Elasticsearch
repositories: same names) whose month ended more than *retention_days* ago: the guide's
`ELASTICSEARCH_RETENTION_DAYS`, one index DELETE per month instead of delete-by-query. Only
indices named `<prefix>-workflow-{runs,app-logs,node-executions}-...-<YYYY.MM>` are touched.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag

from dify_maintenance.airflow.alerts import MaintenanceFailureNotifier
from dify_maintenance.airflow.params import params_for
from dify_maintenance.airflow.tasks import logs as t
from dify_maintenance.logstore.indices import LOG_INDEX_RETENTION_FORM


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
    t.drop_expired_indices()


dify_log_index_retention()
