"""
### Restore a Dify retention archive

Reloads the rows a retention run archived (a whole run, or a family/stage below it), parents
before children, skipping rows that are already present, so running it twice is harmless.
Every manifest is checked first (only tables the batch's family purges, only columns that
exist) and every object read back against its checksum before the first row goes back; an
interrupted restore is completed by running it again. Rows whose key Dify has reused since
are reported as conflicts and left alone.
The prefix is printed in the retention report and listed in the archive store, for example
`retention/dify_retention/scheduled__2026-11-22T03_00_00_00_00/workflow_logs`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag

from dify_maintenance.airflow.alerts import MaintenanceFailureNotifier
from dify_maintenance.airflow.params import params_for
from dify_maintenance.airflow.tasks.restore import report, restore
from dify_maintenance.retention.forms import RESTORE_ARCHIVE_FORM


@dag(
    dag_id="dify_restore_archive",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    allowed_run_types=["manual"],
    dagrun_timeout=timedelta(hours=12),
    tags=["dify", "maintenance", "restore"],
    doc_md=__doc__,
    params=params_for(RESTORE_ARCHIVE_FORM),
    on_failure_callback=MaintenanceFailureNotifier("Dify restore failed"),
    default_args={
        "owner": "data-platform",
        # an archive store that times out gets these retries; a refused or corrupt archive fails at once
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,
    },
)
def dify_restore_archive():
    restore() >> report()


dify_restore_archive()
