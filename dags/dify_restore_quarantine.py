"""
### Restore a quarantine (manual)

Undoes a `dify_orphaned_files` run: moves every object of the named quarantine back to its key
(an object present there again is left alone and reported) and re-inserts the database rows the
run deleted from its archive (rows already present are skipped). Running it twice is harmless.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag

from dify_maintenance.airflow.alerts import MaintenanceFailureNotifier
from dify_maintenance.airflow.params import params_for
from dify_maintenance.airflow.tasks import orphans as o
from dify_maintenance.files.forms import RESTORE_QUARANTINE_FORM


@dag(
    dag_id="dify_restore_quarantine",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    allowed_run_types=["manual"],
    tags=["dify", "maintenance", "storage"],
    doc_md=__doc__,
    params=params_for(RESTORE_QUARANTINE_FORM),
    on_failure_callback=MaintenanceFailureNotifier("Dify quarantine restore failed"),
    default_args={"owner": "data-platform", "retries": 0},
)
def dify_restore_quarantine():
    o.restore() >> o.report_restore()


dify_restore_quarantine()
