"""
### Dify cleanup-pg: delete workflow logs whose documents Dify reads from Elasticsearch (manual)

Replaces `flask elasticsearch cleanup-pg` of Dify's Elasticsearch guide, which deletes the four
tables in one unbatched transaction. **preflight** (typed confirmation; *before_date* at least an
hour before the database's now; the cluster is Elasticsearch 8/9 and the documents sit where
Dify reads them; the newest validation of that cluster covering every data type of the asked
tenants up to *before_date* passed) → **plan** → **archive gate** → **purge** (the retention
engine's workflow-logs family with *before_date* as its cutoff: children first, short batches,
resumable, archive unless turned off; **before each batch commits, every row it deletes is
compared with its document in the cluster**, and a run without a current document stays,
reported by id) → **vacuum** → **verify** → **report**.

Dry run is on by default. A real run needs the database name typed into *confirm_database*
(and once more into *confirm_archive_off* to delete without an archive). Afterwards Dify shows
the deleted runs in its run list and run detail from Elasticsearch; their node traces and the
app's Logs page still read PostgreSQL and show nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag

from dify_maintenance.airflow.alerts import MaintenanceFailureNotifier
from dify_maintenance.airflow.params import params_for
from dify_maintenance.airflow.tasks import logs
from dify_maintenance.airflow.tasks import retention as r
from dify_maintenance.logstore.forms import LOG_CLEANUP_FORM


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
