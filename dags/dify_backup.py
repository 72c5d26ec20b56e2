"""
### Dify database backup

**preflight** (Dify reachable, store writable) → **dump** (`pg_dump` directory format, parallel
jobs, manifest with sha256 of every file) → **verify** (files read back against their sha256,
`pg_restore --list`, optionally a full restore into a scratch database with row counts compared)
→ **rotate** (by count and age; the newest verified backup is always kept) → **report**.

Unscheduled unless `DIFY_MAINT_BACKUP_SCHEDULE` holds a cron expression when the DAG is parsed.
Store: the Airflow connection `dify_backup_store` (OpenDAL scheme and options in its extra), or
`$AIRFLOW_HOME/dify-backups`. Database credentials go to `pg_dump` through its environment only.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import dag

from dify_maintenance.airflow.alerts import MaintenanceFailureNotifier
from dify_maintenance.airflow.params import params_for
from dify_maintenance.airflow.tasks import backup as b
from dify_maintenance.database.forms import BACKUP_FORM


@dag(
    dag_id="dify_backup",
    schedule=os.environ.get("DIFY_MAINT_BACKUP_SCHEDULE") or None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=12),
    tags=["dify", "maintenance", "backup"],
    doc_md=__doc__,
    params=params_for(BACKUP_FORM),
    on_failure_callback=MaintenanceFailureNotifier("Dify backup run failed"),
    default_args={
        "owner": "data-platform",
        "retries": 1,
        "retry_delay": timedelta(minutes=2),
    },
)
def dify_backup():
    ready = b.preflight()
    manifest = b.dump(ready)
    verified = b.verify(ready, manifest)
    b.rotate(ready, verified) >> b.report()


dify_backup()
