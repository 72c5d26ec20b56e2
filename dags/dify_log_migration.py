"""
### Dify workflow logs to Elasticsearch / OpenSearch (manual)

Replaces `flask elasticsearch migrate`, `validate` and `status` of Dify's Elasticsearch guide:
**plan** (the form; what the cluster is and whether Dify can read what this run writes; rows
and bytes per data type and month; a dry run stops here) → **migrate**, one mapped task per
data type and month, one month at a time, `_bulk` requests of *batch_mb* with *concurrency* in
flight, resumable from a watermark after every acknowledged request, then a pass that rewrites
each document behind the watermark that is missing or whose row changed since → **validate**
(every row of the window against its document, by content) → **status** → **report**.

Indices are named as Dify reads them: `<prefix>-workflow-runs-<tenant_id>-<YYYY.MM>` (and
`-workflow-app-logs-`, `-workflow-node-executions-`); offloaded node payloads are read from
Dify's storage and inlined. Documents are written with `index` under the row's id, as Dify's
writer does: a rerun rewrites, never duplicates. Dify reads only Elasticsearch 8/9 with the
prefix `dify` and this layout; anything else is an export, labelled so. Deleting the migrated
rows from PostgreSQL is `dify_log_cleanup_pg`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag

from dify_maintenance.airflow.alerts import MaintenanceFailureNotifier
from dify_maintenance.airflow.params import params_for
from dify_maintenance.airflow.tasks import logs as t
from dify_maintenance.logstore.forms import LOG_MIGRATION_FORM


@dag(
    dag_id="dify_log_migration",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    allowed_run_types=["manual"],
    dagrun_timeout=timedelta(hours=48),
    tags=["dify", "maintenance", "logs"],
    doc_md=__doc__,
    params=params_for(LOG_MIGRATION_FORM),
    on_failure_callback=MaintenanceFailureNotifier("Dify workflow-log migration run failed"),
    default_args={
        "owner": "data-platform",
        "retries": 1,
        "retry_delay": timedelta(minutes=1),
    },
)
def dify_log_migration():
    planned = t.plan()
    migrated = t.migrate_month.partial(planned=planned).expand(partition=t.partitions_of(planned))
    checked = t.validate_window(planned, migrated)
    checked >> t.status() >> t.report_migration()


dify_log_migration()
