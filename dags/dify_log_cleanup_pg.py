"""
### Dify cleanup-pg: delete workflow logs that are proved in Elasticsearch / OpenSearch (manual)

Replaces `flask elasticsearch cleanup-pg` of Dify's Elasticsearch guide, which deletes the four
tables in one unbatched transaction. **preflight** (typed confirmation; the newest validation
by `dify_log_migration` that covers every data type of the asked tenants from the oldest row up
to *before_date* must have passed) → **plan** → **archive gate** → **purge** (the retention
engine's workflow-logs family with *before_date* as its cutoff: children first, short batches,
resumable, archive unless turned off) → **vacuum** → **verify** → **report**.

Dry run is on by default. A real run needs the database name typed into *confirm_database*.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag

from dify_maintenance.airflow.alerts import MaintenanceFailureNotifier
from dify_maintenance.airflow.params import params_for
from dify_maintenance.airflow.tasks import logs
from dify_maintenance.airflow.tasks import retention as r
from dify_maintenance.logstore.cleanup import LOG_CLEANUP_FORM


@dag(
    dag_id="dify_log_cleanup_pg",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    allowed_run_types=["manual"],
    dagrun_timeout=timedelta(hours=24),
    tags=["dify", "maintenance", "logs"],
    doc_md=__doc__,
    params=params_for(LOG_CLEANUP_FORM),
    on_failure_callback=MaintenanceFailureNotifier("Dify cleanup-pg run failed"),
    default_args={
        "owner": "data-platform",
        "retries": 1,
        "retry_delay": timedelta(minutes=1),
    },
)
def dify_log_cleanup_pg():
    ctx = logs.cleanup_preflight()
    planned = r.plan(ctx)
    gate = r.archive_gate(ctx, planned)
    first = r.purge.partial(ctx=ctx).expand(family=r.independent_families(ctx, gate))
    second = r.purge_after.partial(ctx=ctx, before=first).expand(family=r.dependent_families(ctx, gate))
    purged = r.vacuum(ctx, first, second)
    verified = r.verify(ctx, purged)
    r.collect_files(ctx, verified) >> r.report()


dify_log_cleanup_pg()
