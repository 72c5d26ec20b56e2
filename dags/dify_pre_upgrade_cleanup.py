"""
### Dify pre-upgrade cleanup (manual)

Before upgrading Dify: back up, keep only the last N days of logs, give the space back, and
learn in advance which migrations will rewrite or lock big tables and for how long.

**preflight** (form, typed confirmation, Dify version, claim) → **current version** →
**upgrade impact** (now and after the purge; schema diff when a target schema is given) →
**backup** → **verify backup** (the gate: no purge without it) → **purge** (the retention
engine, one mapped task per table family) → **verify purge** → **reclaim** (strategy per table,
with its reason) → **analyze** → **report**.

Dry run is on by default: it measures, plans and reports, and changes nothing. A real run needs
the database name typed into *confirm_database*.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag

from dify_maintenance.airflow.alerts import MaintenanceFailureNotifier
from dify_maintenance.airflow.params import params_for
from dify_maintenance.airflow.tasks import preupgrade as p
from dify_maintenance.airflow.tasks import retention as r
from dify_maintenance.database.forms import PRE_UPGRADE_FORM


@dag(
    dag_id="dify_pre_upgrade_cleanup",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    allowed_run_types=["manual"],
    dagrun_timeout=timedelta(hours=24),
    tags=["dify", "maintenance", "upgrade"],
    doc_md=__doc__,
    params=params_for(PRE_UPGRADE_FORM),
    on_failure_callback=MaintenanceFailureNotifier("Dify pre-upgrade cleanup run failed"),
    default_args={
        "owner": "data-platform",
        "retries": 1,
        "retry_delay": timedelta(minutes=1),
    },
)
def dify_pre_upgrade_cleanup():
    ctx = p.preflight()
    version = p.current_version(ctx)
    impact = p.upgrade_impact(ctx, version)
    made = p.backup(ctx, impact)
    gate = p.verify_backup(ctx, made)
    first = r.purge.partial(ctx=ctx).expand(family=r.independent_families(ctx, gate))
    second = r.purge_after.partial(ctx=ctx, before=first).expand(family=r.dependent_families(ctx, gate))
    purged = p.verify_purge(ctx, first, second)
    reclaimed = p.reclaim(ctx, purged)
    p.analyze(ctx, reclaimed) >> p.report()


dify_pre_upgrade_cleanup()
