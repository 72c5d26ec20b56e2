"""
### Dify orphaned files

Finds the files Dify no longer uses and, when asked, moves them out of the way:
**preflight** → **inventory** (the storage's Dify prefixes listed, streaming, into the database)
→ **scan** (one mapped task per table whose columns can name a file: message files and inputs,
node inputs and outputs, knowledge documents and attachments, variables, forms, agents, icons;
a file is named by its id, by a `dify-file-ref:` reference or by its key) and **scan payloads**
(offloaded node payloads, offloaded draft variables, paused runs' state) → **candidates**
(counts, bytes, CSV in the report store) → **collect** (real runs, batch by batch: every source
asked again about the batch, rows deleted archived first, objects moved to a quarantine prefix)
→ **empty quarantine** (older than N days) → **report**.

A dry run (the default, and every scheduled run unless the Variable `dify_maintenance_orphans`
holds `{"dry_run": false}`) changes nothing in Dify. Nothing younger than the grace period,
nothing referenced, nothing a live row names and nothing under `privkeys/` is ever moved.
Undo a run with `dify_restore_quarantine`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag

from dify_maintenance.airflow.alerts import MaintenanceFailureNotifier
from dify_maintenance.airflow.params import params_for
from dify_maintenance.airflow.tasks import orphans as o
from dify_maintenance.files.forms import ORPHANS_FORM


@dag(
    dag_id="dify_orphaned_files",
    schedule="0 5 * * 0",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=24),
    tags=["dify", "maintenance", "storage"],
    doc_md=__doc__,
    params=params_for(ORPHANS_FORM),
    on_failure_callback=MaintenanceFailureNotifier("Dify orphaned-files run failed"),
    default_args={
        "owner": "data-platform",
        "retries": 2,
        "retry_delay": timedelta(minutes=1),
    },
)
def dify_orphaned_files():
    ctx = o.preflight()
    listed = o.inventory(ctx)
    scanned = o.scan.partial(ctx=ctx).expand(source=o.sources(ctx, listed))
    found = o.candidates(ctx, scanned, o.scan_payloads(ctx, listed))
    collected = o.collect(ctx, found)
    o.empty_quarantine(ctx, collected) >> o.report()


dify_orphaned_files()
