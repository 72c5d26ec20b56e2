"""
### Dify storage migration (manual)

Copy Dify's files from one storage to another through OpenDAL (fs, S3 and S3-compatibles, OSS,
Azure Blob, GCS, ...): **preflight** → **inventory** (the source listed once, streaming, into
shards) → **copy** (one mapped task per shard, parallel copies, each object verified by size and
sha256) → **check database** (files Dify's rows name that the source lacks) → **update storage
type** (optional) → **report**.

Name each storage by an Airflow connection (OpenDAL scheme and options in its extra) or by the
path of a Dify `.env`. A rerun after a crash or an outage copies only what is missing or wrong;
a delta pass before the cut-over is a rerun, optionally limited to objects modified since a moment.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag

from dify_maintenance.airflow.alerts import MaintenanceFailureNotifier
from dify_maintenance.airflow.params import params_for
from dify_maintenance.airflow.tasks import store_migration as m
from dify_maintenance.files.forms import MIGRATION_FORM


@dag(
    dag_id="dify_storage_migration",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    allowed_run_types=["manual"],
    dagrun_timeout=timedelta(hours=48),
    tags=["dify", "maintenance", "storage"],
    doc_md=__doc__,
    params=params_for(MIGRATION_FORM),
    on_failure_callback=MaintenanceFailureNotifier("Dify storage migration run failed"),
    default_args={
        "owner": "data-platform",
        "retries": 1,
        "retry_delay": timedelta(minutes=1),
    },
)
def dify_storage_migration():
    ready = m.preflight()
    inv = m.inventory(ready)
    copied = m.copy.partial(inv=inv).expand(shard=m.shards_of(inv))
    checked = m.check_database(ready, copied)
    m.update_storage_type(checked) >> m.report()


dify_storage_migration()
