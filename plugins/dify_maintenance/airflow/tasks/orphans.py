"""The tasks of ``dify_orphaned_files`` and ``dify_restore_quarantine``."""

from __future__ import annotations

import logging
from datetime import datetime

from airflow.sdk import TriggerRule, get_current_context

from dify_maintenance.airflow import connections
from dify_maintenance.airflow.tasks.common import (
    archive_store,
    connector_for,
    current_settings,
    fail_fast,
    run_moment,
    run_params,
    scheduled_params,
    task,
)
from dify_maintenance.airflow.tasks.lifecycle import end_run, preflight_context
from dify_maintenance.core.db import Connector
from dify_maintenance.core.errors import InvalidPolicy
from dify_maintenance.files import orphans, quarantine
from dify_maintenance.files.orphans import Request
from dify_maintenance.retention.restore import restore as restore_archive
from dify_maintenance.storage.stores import StoreConfig

log = logging.getLogger(__name__)

# Scheduled runs take the form's defaults (a dry run); this Variable (a JSON object of the same
# fields, e.g. {"dry_run": false}) lets a deployment make its weekly run a real one.
SCHEDULE_VARIABLE = "dify_maintenance_orphans"


def _request() -> Request:
    return orphans.request_from(scheduled_params(SCHEDULE_VARIABLE))


def dify_store(values: dict) -> StoreConfig:
    """Dify's storage: from its ``.env`` when given, else from the Airflow connection."""
    if values.get("dify_env"):
        return connections.dify_storage(dify_env_file=values["dify_env"])
    return connections.dify_storage(conn_id=values.get("storage_conn_id") or None)


def _db() -> Connector:
    return connector_for(current_settings())


@task
@fail_fast
def preflight() -> dict:
    """Validate the form, reach Dify's database and storage, fix the grace cutoffs, claim (real runs)."""
    req = _request()
    dag_run = get_current_context()["dag_run"]
    return orphans.preflight(
        _db(),
        dify_store(req.to_dict()),
        req,
        dag_id=dag_run.dag_id,
        run_id=dag_run.run_id,
        archive_store=archive_store(current_settings()),
        now=run_moment(dag_run),
    )


@task
@fail_fast
def inventory(ctx: dict) -> dict:
    """List the storage (streaming) and record every file row and object old enough to be an orphan."""
    return orphans.inventory(_db(), dify_store(ctx["request"]), ctx)


@task
@fail_fast
def sources(ctx: dict, listed: dict) -> list[str]:
    """The tables whose columns can name files (each read once for all its columns)."""
    return orphans.source_tables(ctx)


@task(map_index_template="{{ source_label }}", max_active_tis_per_dagrun=2)
@fail_fast
def scan(source: str, ctx: dict) -> dict:
    """Keep every candidate one table names (ids, dify-file-refs, keys; read in slices of pages)."""
    get_current_context()["source_label"] = source
    return orphans.scan(_db(), ctx, source)


@task
@fail_fast
def scan_payloads(ctx: dict, listed: dict) -> dict:
    """Keep every candidate an offloaded payload or a paused run's state object names."""
    return orphans.scan_payloads(_db(), dify_store(ctx["request"]), ctx)


@task
@fail_fast
def candidates(ctx: dict, scanned: list[dict], payloads: dict) -> dict:
    """What is left is orphaned: counts, bytes, and a CSV of every candidate in the report store."""
    db = _db()
    found = orphans.summary(db, ctx)
    found["csv"] = orphans.write_csv(db, archive_store(current_settings()), ctx)
    return found


@task
@fail_fast
def collect(ctx: dict, found: dict) -> dict:
    """Real runs, batch by batch: every source asked again, orphan rows deleted (archived first),
    objects quarantined."""
    if ctx["request"]["dry_run"]:
        return {"skipped": "dry run"}
    return orphans.collect(_db(), dify_store(ctx["request"]), archive_store(current_settings()), ctx)


@task
@fail_fast
def empty_quarantine(ctx: dict, collected: dict) -> dict:
    """Delete, for good, quarantines older than the chosen number of days (real runs)."""
    store, days, now = dify_store(ctx["request"]), ctx["request"]["quarantine_days"], datetime.fromisoformat(ctx["now"])
    if ctx["request"]["dry_run"]:
        return {"would_empty": [q["quarantine_id"] for q in quarantine.expired(store, days, now)]}
    return {"emptied": quarantine.empty(store, days, now)}


@task(trigger_rule=TriggerRule.ALL_DONE)
@fail_fast
def report() -> dict:
    """Print the report, append it to history and release the database (always runs)."""
    ti = get_current_context()["ti"]
    ctx = preflight_context(ti, "nothing was examined or moved", "Dify orphaned files")
    listed = ti.xcom_pull(task_ids="inventory") or {}
    found = ti.xcom_pull(task_ids="candidates") or {}
    collected = ti.xcom_pull(task_ids="collect") or {}
    emptied = ti.xcom_pull(task_ids="empty_quarantine")
    db = _db()
    final = orphans.summary(db, ctx)
    complete = bool(found) and bool(collected) and emptied is not None
    payloads = ti.xcom_pull(task_ids="scan_payloads") or {}
    rep = orphans.build_report(ctx, listed, final, found.get("csv", {}), collected, emptied or {}, complete, payloads)
    lines = orphans.render_lines(rep)
    end_run("Dify orphaned files", rep, lines[1:], began=True)
    return {k: rep[k] for k in ("outcome", "dry_run", "candidates", "candidate_bytes")}


@task
@fail_fast
def restore() -> dict:
    """Move a quarantine's objects back and re-insert the rows its run deleted (idempotent)."""
    params = run_params()
    qid = (params.get("quarantine_id") or "").strip()
    if not qid:
        raise InvalidPolicy("quarantine_id is required (the report of the run that quarantined names it)")
    box = quarantine.Quarantine(dify_store(params), qid)
    info = box.info()
    objects = box.restore()
    rows = {}
    if params.get("restore_rows", True):
        rows = restore_archive(_db(), archive_store(current_settings()), info["archive_prefix"])
    log.info("restored quarantine %s: objects %s, rows %s", qid, objects, rows)
    return {"quarantine_id": qid, "objects": objects, "rows": rows}


@task(task_id="report", trigger_rule=TriggerRule.ALL_DONE)
@fail_fast
def report_restore() -> dict:
    """What came back from the quarantine, into the history and the run's note."""
    restored = get_current_context()["ti"].xcom_pull(task_ids="restore")
    rep = {"outcome": "success" if restored is not None else "failed", **(restored or {})}
    lines = (
        [f"quarantine {restored['quarantine_id']}: objects {restored['objects']}, rows {restored['rows']}"] if restored else []
    )
    end_run("Dify quarantine restore", rep, lines or ["nothing restored"], began=False, create_schema=restored is not None)
    return restored or {}
