"""Orphaned files: upload and tool-file rows nothing references, and stored objects no row names.

The steps of ``dify_orphaned_files``, callable with or without Airflow:

1. **preflight**: validate, detect Dify, fix the grace cutoffs once (a retry reuses them), claim
   the database for a real run.
2. **inventory**: list the storage's Dify prefixes, streaming, into a session table with COPY;
   every file row older than the grace period and every unnamed old object becomes a row of
   ``dify_maintenance.file_candidates``. Memory stays flat at millions of keys.
3. **scan**, per reference source (``filerefs``): read the column in slices of heap pages and
   mark every candidate whose id appears in it as referenced. What is left is an orphan.
4. **collect** (real runs): check the exact references again, delete the orphan rows in batches
   with every deleted row archived first, then move their objects and the unnamed objects into
   quarantine (``quarantine``), never an object a live row still names or a protected key.

The candidate list lives in the database, so a retried task resumes and the report and the CSV
read it back.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from dify_maintenance.core import drift, state
from dify_maintenance.core.db import Connector, connection, execute, fetch_all, fetch_one
from dify_maintenance.core.errors import InvalidPolicy
from dify_maintenance.core.forms import Field, Form
from dify_maintenance.core.schema import snapshot
from dify_maintenance.core.sqltemplates import render
from dify_maintenance.files import filerefs
from dify_maintenance.files.dify_storage import DIFY_PREFIXES, PROTECTED_PREFIXES, STORAGE_FIELDS, is_protected
from dify_maintenance.files.filecheck import load_listing
from dify_maintenance.files.quarantine import Quarantine, quarantine_id
from dify_maintenance.files.stores import StoreConfig, check_store, key_part
from dify_maintenance.retention.archive import FILES_FAMILY, ArchiveWriter, copy_out

log = logging.getLogger(__name__)

# Prefixes whose objects Dify's rows name; privkeys/ is never scanned (nothing names those keys).
SCANNABLE_PREFIXES = tuple(p for p in DIFY_PREFIXES if p not in PROTECTED_PREFIXES)
DEFAULT_PREFIXES = ("upload_files/", "image_files/", "tools/", "datasources/")
FILE_TABLES = {"upload_file": "upload_files", "tool_file": "tool_files"}
# PostgreSQL reads a TID range (ctid >= and <) without scanning the whole table from 14 on.
TID_RANGE_SCAN_VERSION = 140000
FORGET_AFTER_DAYS = 90


# The trigger form of dify_orphaned_files (scheduled runs: the Variable dify_maintenance_orphans
# sets the same fields); a dry run by default.
ORPHANS_FORM = Form(
    "dify_orphaned_files",
    (
        Field(
            "grace_days",
            "Grace period (days)",
            "integer",
            7,
            "Scope",
            "Rows and objects younger than this are never candidates (uploads still in flight).",
            minimum=1,
            maximum=3650,
        ),
        Field(
            "prefixes",
            "Key prefixes to scan",
            "array",
            list(DEFAULT_PREFIXES),
            "Scope",
            "privkeys/ and .dify_secret_key are never scanned or touched.",
            items={"type": "string", "enum": list(SCANNABLE_PREFIXES)},
            min_items=1,
        ),
        Field(
            "created_before",
            "Only files created before",
            "string",
            None,
            "Scope",
            "For example a retention run's cutoff: collect only what the purged rows referenced.",
            nullable=True,
            format="date-time",
        ),
        *STORAGE_FIELDS,
        Field("dry_run", "Dry run (report and CSV only)", "boolean", True, "Safety"),
        Field("archive", "Archive rows before deleting them", "boolean", True, "Safety"),
        Field("quarantine_days", "Empty quarantines older than (days)", "integer", 30, "Safety", minimum=1, maximum=3650),
        Field("batch_size", "Rows or objects per batch", "integer", 1000, "Tuning", minimum=1, maximum=50000),
        Field("slice_pages", "Heap pages per reference-scan statement", "integer", 8192, "Tuning", minimum=1, maximum=10_000_000),
    ),
)


@dataclass(frozen=True)
class Request:
    """The trigger form, validated (fields, bounds and defaults: ``ORPHANS_FORM``)."""

    grace_days: int
    prefixes: tuple[str, ...]
    created_before: str | None
    storage_conn_id: str | None
    dify_env: str | None
    dry_run: bool
    archive: bool
    quarantine_days: int
    batch_size: int
    slice_pages: int

    def to_dict(self) -> dict:
        data = asdict(self)
        data["prefixes"] = list(self.prefixes)
        return data


def _iso_created_before(values: dict) -> list[str]:
    try:
        if values["created_before"]:
            datetime.fromisoformat(values["created_before"])
    except (TypeError, ValueError):
        return [f"created_before {values['created_before']!r} is not an ISO date-time"]
    return []


def request_from(params: dict) -> Request:
    """Build and validate the request from Params (or a recorded dict); every problem at once."""
    values = ORPHANS_FORM.checked(params, "orphaned-files", _iso_created_before)
    return Request(**{**values, "prefixes": tuple(values["prefixes"])})


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def preflight(
    connector: Connector,
    store: StoreConfig,
    req: Request,
    *,
    dag_id: str,
    run_id: str,
    archive_store: StoreConfig | None,
    now: datetime | None = None,
    claim_key: str | None = None,
) -> dict:
    """Everything checkable before a file is examined; the cutoffs are fixed here, once.

    ``now`` is the run's own moment (its logical date in a DAG), so the grace period means the
    same in every task and retry of the run, and a test can build its scenario around it.
    ``claim_key`` names a run that already holds the database (a retention run collecting the
    files it orphaned); otherwise a real run claims it for itself."""
    run_key = f"{dag_id}/{run_id}"
    moment = now or datetime.now(UTC)
    object_cutoff = moment - timedelta(days=req.grace_days)
    cutoffs = {"row_cutoff": _naive_utc(object_cutoff).isoformat(), "object_cutoff": object_cutoff.isoformat()}
    if not req.dry_run:
        check_store(store)
        if req.archive:
            if archive_store is None:
                raise InvalidPolicy("a real run with archive on needs an archive store")
            check_store(archive_store)
    with connection(connector) as conn:
        snap = snapshot(conn)
        version, drift_notes = drift.checked_version(conn, snap, {"upload_files", "tool_files"})
        for note in drift_notes:
            log.warning("%s", note)
        server = fetch_one(conn, "introspect/server.sql")
        state.ensure_schema(conn)
        with conn.transaction():
            execute(conn, "orphans/forget_old_runs.sql", {"days": FORGET_AFTER_DAYS})
        if not req.dry_run and claim_key is None:
            state.claim(conn, run_key)
        recorded = state.record_run(
            conn,
            run_key=run_key,
            dag_id=dag_id,
            run_id=run_id,
            cutoffs=cutoffs,
            policy=req.to_dict(),
            dify_version=version.version,
        )
    return {
        "run_key": run_key,
        "claim_key": claim_key or run_key,
        "dag_id": dag_id,
        "dify_version": version.version,
        "database": server["database"],
        "cutoffs": recorded["cutoffs"],
        "now": moment.isoformat(),
        "request": req.to_dict(),
        "sources": [s.name for s in filerefs.available(snap)],
        "ranged_scans": server["server_version_num"] >= TID_RANGE_SCAN_VERSION,
        # the optional tables the SQL may name (Dify versions differ)
        "schema": {
            "has_tool_files": snap.has_table("tool_files"),
            "has_pauses": snap.has_column("workflow_pauses", "state_object_key"),
            "has_datasets": snap.has_table("datasets"),
        },
        "storage": store.describe(),
        "quarantine_id": quarantine_id(run_key),
        "archive_prefix": f"orphans/{key_part(dag_id)}/{key_part(run_id)}",
    }


def _cutoff_params(ctx: dict) -> dict:
    req = ctx["request"]
    params = {
        "run_key": ctx["run_key"],
        "row_cutoff": datetime.fromisoformat(ctx["cutoffs"]["row_cutoff"]),
        "object_cutoff": datetime.fromisoformat(ctx["cutoffs"]["object_cutoff"]),
    }
    if req.get("created_before"):
        moment = datetime.fromisoformat(req["created_before"])
        params["created_before"] = _naive_utc(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    return params


def inventory(connector: Connector, store: StoreConfig, ctx: dict) -> dict:
    """List the storage into a session table and record every file row and object old enough
    to be an orphan. Starting again (a retry) replaces this run's list."""
    params = _cutoff_params(ctx)
    flags = {"created_before": "created_before" in params, **ctx["schema"]}
    started = time.monotonic()
    with connection(connector) as conn, conn.transaction():
        execute(conn, "orphans/clear_run.sql", {"run_key": ctx["run_key"]})
        # protected keys are never candidates, whatever the database says
        listed, listed_bytes = load_listing(conn, store, ctx["request"]["prefixes"], skip=is_protected)
        counts = {"upload_file": execute(conn, "orphans/upload_candidates.sql", params, **flags)}
        if flags["has_tool_files"]:
            counts["tool_file"] = execute(conn, "orphans/tool_candidates.sql", params, **flags)
        counts["object"] = execute(conn, "orphans/object_candidates.sql", params, **flags)
        if flags["has_tool_files"]:
            execute(conn, "orphans/mark_tool_conversations.sql", {"run_key": ctx["run_key"]})
    result = {
        "listed_objects": listed,
        "listed_bytes": listed_bytes,
        "examined": counts,
        "seconds": round(time.monotonic() - started, 2),
    }
    log.info("listed %d objects (%.1f MB); examining %s", listed, listed_bytes / 1e6, counts)
    return result


def scan(connector: Connector, ctx: dict, source_name: str) -> dict:
    """Mark the candidates one reference source mentions, a slice of heap pages at a time.

    Each slice is its own short statement, so a 100 GB table never holds a snapshot for hours;
    pages the table grew by during the scan are read too."""
    source = filerefs.by_name(source_name)
    started = time.monotonic()
    marked = slices = 0
    base = {"run_key": ctx["run_key"], "source": source.name}
    base.update({"exact": filerefs.EXACT_UUID_PATTERN} if source.direct else {"pattern": filerefs.UUID_PATTERN})
    flags = {"table": source.table, "column": source.column, "direct": source.direct}
    slice_pages = int(ctx["request"]["slice_pages"])
    with connection(connector) as conn:
        if not ctx["ranged_scans"]:
            marked = execute(conn, "orphans/mark_referenced.sql", base, ranged=False, **flags)
            slices = 1
        low = 0
        while ctx["ranged_scans"] and low < int(fetch_one(conn, "orphans/relation_pages.sql", {"table": source.table})["pages"]):
            high = low + slice_pages
            bounds = {"low": f"({low},0)", "high": f"({high},0)"}
            marked += execute(conn, "orphans/mark_referenced.sql", {**base, **bounds}, ranged=True, **flags)
            slices += 1
            low = high
    seconds = round(time.monotonic() - started, 2)
    log.info("%s: %d candidates referenced, %d slices, %.1f s", source.name, marked, slices, seconds)
    return {"source": source.name, "referenced": marked, "slices": slices, "seconds": seconds}


def summary(connector: Connector, ctx: dict) -> dict:
    """Counts and bytes per kind: candidates, kept (and by which reference), outcomes."""
    with connection(connector) as conn:
        rows = fetch_all(conn, "orphans/summary.sql", {"run_key": ctx["run_key"]})
    out: dict = {"candidates": {}, "candidate_bytes": {}, "kept_by": {}, "outcomes": {}, "rows_deleted": {}}

    def add(section: str, key: str, n: int) -> None:
        out[section][key] = out[section].get(key, 0) + n

    for row in rows:
        kind, files = row["kind"], int(row["files"])
        if row["referenced_by"]:
            add("kept_by", row["referenced_by"], files)
            continue
        add("candidates", kind, files)
        add("candidate_bytes", kind, int(row["bytes"]))
        if row["outcome"]:
            add("outcomes", f"{kind}: {row['outcome']}", files)
        if row["rows_deleted"]:
            add("rows_deleted", FILE_TABLES.get(kind, kind), int(row["rows_deleted"]))
    return out


def write_csv(connector: Connector, report_store: StoreConfig, ctx: dict) -> dict:
    """Every candidate as CSV in the report store, streamed from PostgreSQL (bounded memory)."""
    key = f"{report_store.prefix}{ctx['archive_prefix']}/candidates.csv"
    op = report_store.operator()
    rows = -1  # the header line
    with connection(connector) as conn, conn.cursor() as cur, op.open(key, "wb") as out:
        with cur.copy(render("orphans/candidates_csv.sql"), {"run_key": ctx["run_key"]}) as copy:
            for chunk in copy:
                block = bytes(chunk)
                rows += block.count(b"\n")
                out.write(block)
    return {"store": report_store.describe(), "key": key, "rows": max(rows, 0)}


def recheck_direct(connector: Connector, ctx: dict) -> dict[str, int]:
    """Read the exact-reference columns again right before deleting: a file attached since the
    scan is kept. (Text columns are read once; quarantine is the net for the rest.)"""
    return {s.name: scan(connector, ctx, s.name)["referenced"] for s in filerefs.SOURCES if s.direct and s.name in ctx["sources"]}


def delete_rows(connector: Connector, ctx: dict, archive_store: StoreConfig | None) -> dict[str, int]:
    """Delete the orphan rows in batches; with the archive on, each batch's rows are streamed
    to the archive store and the batch commits only after its objects are written."""
    req = ctx["request"]
    params = _cutoff_params(ctx)
    writer = (
        ArchiveWriter(
            archive_store, ctx["archive_prefix"] + "/rows", {"run_key": ctx["run_key"], "dify_version": ctx["dify_version"]}
        )
        if req["archive"] and archive_store is not None
        else None
    )
    deleted: dict[str, int] = {}
    batch_no = 0
    try:
        with connection(connector) as conn:
            columns = snapshot(conn).columns
            for kind, table in FILE_TABLES.items():
                if kind == "tool_file" and not ctx["schema"]["has_tool_files"]:
                    continue
                while True:
                    with conn.transaction():
                        state.heartbeat(conn, ctx["claim_key"])
                        rows = fetch_all(
                            conn, "orphans/row_batch.sql", {"run_key": ctx["run_key"], "kind": kind, "batch": req["batch_size"]}
                        )
                        if not rows:
                            break
                        ids = [r["id"] for r in rows]
                        bind = {"file_ids": [r["file_id"] for r in rows], "row_cutoff": params["row_cutoff"]}
                        flags = {"table": table, "has_created_at": kind == "upload_file"}
                        batch_no += 1
                        if writer:
                            upload = writer.begin_batch(FILES_FAMILY, table, batch_no)
                            with conn.cursor() as cur:
                                part = copy_out(
                                    cur, render("orphans/delete_rows.sql", copy=True, **flags), bind, table, columns[table]
                                )
                            upload.add(part)
                            upload.finish()
                            n = part.rows
                        else:
                            n = execute(conn, "orphans/delete_rows.sql", bind, copy=False, **flags)
                        execute(conn, "orphans/mark_rows_deleted.sql", {"ids": ids})
                    deleted[table] = deleted.get(table, 0) + n
    finally:
        if writer:
            writer.close()
    log.info("deleted orphan rows %s", deleted)
    return deleted


def quarantine_objects(connector: Connector, store: StoreConfig, ctx: dict) -> dict[str, int]:
    """Move the orphan objects into quarantine in batches; each batch's outcomes are recorded
    after its moves, so a retry redoes at most one batch (moves are idempotent)."""
    req = ctx["request"]
    object_cutoff = datetime.fromisoformat(ctx["cutoffs"]["object_cutoff"])
    box = Quarantine(store, ctx["quarantine_id"])
    box.open({"run_key": ctx["run_key"], "database": ctx["database"], "archive_prefix": ctx["archive_prefix"] + "/rows"})
    counts: dict[str, int] = {}
    batch_no = 0
    with connection(connector) as conn:
        while True:
            batch = {"run_key": ctx["run_key"], "batch": req["batch_size"]}
            rows = fetch_all(conn, "orphans/object_batch.sql", batch, **ctx["schema"])
            if not rows:
                break
            named = [r for r in rows if r["still_named"]]
            movable = [r for r in rows if not r["still_named"]]
            batch_no += 1
            outcomes = box.move_batch(
                batch_no,
                [{"key": r["key"], "kind": r["kind"], "file_id": str(r["file_id"]) if r["file_id"] else None} for r in movable],
                object_cutoff,
            )
            ids = [r["id"] for r in named] + [r["id"] for r in movable]
            results = ["kept: named by a live row"] * len(named) + outcomes
            with conn.transaction():
                state.heartbeat(conn, ctx["claim_key"])
                execute(conn, "orphans/set_outcomes.sql", {"ids": ids, "outcomes": results})
            for outcome in results:
                counts[outcome] = counts.get(outcome, 0) + 1
    log.info("quarantine %s: %s", ctx["quarantine_id"], counts)
    return counts


def collect(connector: Connector, store: StoreConfig, archive_store: StoreConfig | None, ctx: dict) -> dict:
    """A real run's changes, in the only safe order: exact references read again, orphan rows
    deleted (archived first when the request says so), then their objects quarantined."""
    return {
        "rechecked": recheck_direct(connector, ctx),
        "rows_deleted": delete_rows(connector, ctx, archive_store if ctx["request"]["archive"] else None),
        "objects": quarantine_objects(connector, store, ctx),
    }


def csv_rows(data: bytes) -> list[dict]:
    """Parse a candidates CSV (tests and the restore check read it back)."""
    return list(csv.DictReader(io.StringIO(data.decode())))


def build_report(ctx: dict, listed: dict, final: dict, csv_info: dict, collected: dict, emptied: dict, complete: bool) -> dict:
    """The run's report as data (history keeps it); ``render_lines`` makes it readable."""
    return {
        "outcome": "success" if complete else "failed",
        "dry_run": ctx["request"]["dry_run"],
        "dify_version": ctx["dify_version"],
        "storage": ctx["storage"],
        "cutoffs": ctx["cutoffs"],
        "grace_days": ctx["request"]["grace_days"],
        "quarantine_days": ctx["request"]["quarantine_days"],
        "prefixes": ctx["request"]["prefixes"],
        "listed_objects": listed.get("listed_objects", 0),
        "listed_bytes": listed.get("listed_bytes", 0),
        "candidates": final["candidates"],
        "candidate_bytes": final["candidate_bytes"],
        "kept_by": final["kept_by"],
        "outcomes": final["outcomes"],
        "rows_deleted": final["rows_deleted"],
        "csv": csv_info,
        "quarantine_id": ctx["quarantine_id"] if final["outcomes"] else None,
        "archive_prefix": ctx["archive_prefix"] + "/rows" if final["rows_deleted"] else None,
        "rechecked": collected.get("rechecked", {}),
        "quarantines_emptied": emptied.get("emptied", []),
        "quarantines_due": emptied.get("would_empty", []),
    }


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def render_lines(rep: dict) -> list[str]:
    labels = {"upload_file": "upload_files rows", "tool_file": "tool_files rows", "object": "objects no row names"}
    lines = [
        f"Dify orphaned files: {rep['outcome'].upper()}" + ("  (DRY RUN: nothing deleted or moved)" if rep["dry_run"] else ""),
        f"Dify {rep['dify_version']}, storage {rep['storage']}, prefixes {', '.join(rep['prefixes'])}",
        f"grace {rep['grace_days']} days: rows created before {rep['cutoffs']['row_cutoff']} (UTC), "
        f"objects modified before {rep['cutoffs']['object_cutoff']}",
        f"listed {rep['listed_objects']:,} objects ({_mb(rep['listed_bytes'])})",
        "orphan candidates:",
    ]
    for kind, label in labels.items():
        lines.append(f"  {label:<24} {rep['candidates'].get(kind, 0):>10,}  {_mb(rep['candidate_bytes'].get(kind, 0)):>14}")
    if rep["kept_by"]:
        lines.append("kept because something references them:")
        lines.extend(f"  {source:<48} {n:>10,}" for source, n in sorted(rep["kept_by"].items(), key=lambda kv: -kv[1]))
    if rep["csv"]:
        lines.append(f"candidate list (CSV, {rep['csv']['rows']:,} rows): {rep['csv']['store']} {rep['csv']['key']}")
    if rep["rows_deleted"]:
        deleted = ", ".join(f"{t} {n:,}" for t, n in rep["rows_deleted"].items())
        lines.append(f"rows deleted: {deleted}; archived under {rep['archive_prefix']}")
    if rep["outcomes"]:
        lines.append("objects:")
        lines.extend(f"  {what:<48} {n:>10,}" for what, n in sorted(rep["outcomes"].items()))
        lines.append(
            f"quarantine {rep['quarantine_id']}: restore everything with the DAG dify_restore_quarantine (quarantine_id)"
        )
    if rep["rechecked"] and any(rep["rechecked"].values()):
        lines.append(f"attached since the scan, so kept: {rep['rechecked']}")
    for q in rep["quarantines_emptied"]:
        lines.append(f"emptied quarantine {q['quarantine_id']} from {q['created_at']} ({q['listed_objects']:,} objects)")
    if rep["quarantines_due"]:
        lines.append(f"quarantines a real run would empty: {', '.join(rep['quarantines_due'])}")
    return lines


def run_all(
    connector: Connector,
    store: StoreConfig,
    archive_store: StoreConfig | None,
    req: Request,
    *,
    dag_id: str,
    run_id: str,
    claim_key: str | None = None,
    now: datetime | None = None,
) -> dict:
    """Every step in one process, in order (a retention run's file collection, the demo)."""
    ctx = preflight(
        connector, store, req, dag_id=dag_id, run_id=run_id, archive_store=archive_store, claim_key=claim_key, now=now
    )
    listed = inventory(connector, store, ctx)
    for source in ctx["sources"]:
        scan(connector, ctx, source)
    csv_info = write_csv(connector, archive_store, ctx) if archive_store is not None else {}
    collected = {} if req.dry_run else collect(connector, store, archive_store, ctx)
    return build_report(ctx, listed, summary(connector, ctx), csv_info, collected, {}, True)
