"""
### Dify weekly retention

Purges expired Dify logs safely: **preflight** (connection, Dify version, tables, indexes, one
run at a time) → **plan** → **archive gate** → **purge**, one mapped task per table family →
**vacuum** → **verify** → **report**.

* Workflow logs: ended runs with node executions, offloads, app logs, pauses, trigger logs.
* Messages: messages with every child table, then conversations with no message left.
* End users: only when nothing remaining refers to them.
* Files (policy `collect_files`, off by default): uploads and tool files only the purged rows
  referenced go through the orphaned-files check and into quarantine (see `dify_orphaned_files`).

**Unpausing this DAG starts a run at once**: Airflow creates the run of the latest missed
Sunday even with `catchup=False`. With the default policy (`first_run_dry_run`), the first run
on a database is a dry run: it reports what it would delete and changes nothing, and the next
run purges. To purge on the first run, trigger it with *dry run* off (or set
`"first_run_dry_run": false` in the Variable `dify_maintenance_policy`).

Every deleted row is archived first (zstd COPY text with a manifest per batch) unless the run
explicitly turns the archive off. The cutoff is fixed at preflight from the logical date (UTC).
Policy defaults: `resources/retention_policy.json`, overridden by the Variable
`dify_maintenance_policy`, then by the Params below (empty means "use the policy").
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag

from dify_maintenance.airflow.alerts import MaintenanceFailureNotifier, deadline_alerts
from dify_maintenance.airflow.params import params_for
from dify_maintenance.airflow.tasks import retention as t
from dify_maintenance.retention.forms import RETENTION_FORM


@dag(
    dag_id="dify_retention",
    schedule="0 3 * * 0",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=12),
    tags=["dify", "maintenance", "retention"],
    doc_md=__doc__,
    params=params_for(RETENTION_FORM),
    on_failure_callback=MaintenanceFailureNotifier("Dify retention run failed"),
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=30),
    },
    **deadline_alerts("dify_retention", hours=6),
)
def dify_retention():
    ctx = t.preflight()
    planned = t.plan(ctx)
    gate = t.archive_gate(ctx, planned)
    first = t.purge.partial(ctx=ctx).expand(family=t.independent_families(ctx, gate))
    second = t.purge_after.partial(ctx=ctx, before=first).expand(family=t.dependent_families(ctx, gate))
    purged = t.vacuum(ctx, first, second)
    verified = t.verify(ctx, purged)
    t.collect_files(ctx, verified) >> t.report()


dify_retention()
