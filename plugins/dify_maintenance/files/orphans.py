"""Orphaned files: upload and tool-file rows nothing references, and stored objects no row names.

The steps of ``dify_orphaned_files``, callable with or without Airflow:

1. **preflight**: validate, detect Dify, fix the grace cutoffs once (a retry reuses them), claim
   the database for a real run.
2. **inventory**: list the storage's Dify prefixes, streaming, into a session table with COPY;
   every file row older than the grace period and every unnamed old object becomes a row of
   ``dify_maintenance.file_candidates``. Memory stays flat at millions of keys.
3. **scan**, per table with reference sources (``filerefs``): read its columns in slices of heap
   pages and mark every candidate they name (by id, dify-file-ref or key) as referenced; and
   **scan_payloads**: read every live offloaded payload and paused run's state object and mark
   what they name (``payloads``). What is left is an orphan.
4. **collect** (real runs), batch by batch: ask every source again, in a fresh snapshot, about
   the batch (only rows changed since the scan began need reading: the scan read the others),
   then delete the batch's orphan rows (archived first) and move their objects, and the unnamed
   objects, into quarantine (``quarantine``); never an object a live row names or a protected key.

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

from dify_maintenance.core import drift, runs, state
from dify_maintenance.core.db import Connector, connection, execute, fetch_all, fetch_one
from dify_maintenance.core.errors import InvalidPolicy
from dify_maintenance.core.moments import naive_utc
from dify_maintenance.core.schema import snapshot
from dify_maintenance.core.sqltemplates import render
from dify_maintenance.files import filerefs, payloads
from dify_maintenance.files.filecheck import load_listing
from dify_maintenance.files.forms import ORPHANS_FORM
from dify_maintenance.files.quarantine import Quarantine, quarantine_id
from dify_maintenance.storage.archive import FILES_FAMILY, ArchiveWriter, copy_out
from dify_maintenance.storage.dify_storage import is_protected
from dify_maintenance.storage.stores import StoreConfig, check_store, key_part

log = logging.getLogger(__name__)

FILE_TABLES = {"upload_file": "upload_files", "tool_file": "tool_files"}
# PostgreSQL reads a TID range (ctid >= and <) without scanning the whole table from 14 on.
TID_RANGE_SCAN_VERSION = 140000
FORGET_AFTER_DAYS = 90


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
    run_key = runs.run_key(dag_id, run_id)
    moment = now or datetime.now(UTC)
    object_cutoff = moment - timedelta(days=req.grace_days)
    cutoffs = {"row_cutoff": naive_utc(object_cutoff).isoformat(), "object_cutoff": object_cutoff.isoformat()}
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
        columns = fetch_all(conn, "orphans/text_columns.sql")
        types = {(c["table_name"], c["column_name"]): c["data_type"] for c in columns}
        sources = filerefs.present(columns)
        # rows written from here on are read again when their batch is collected
        cutoffs["scan_xid"] = fetch_one(conn, "orphans/scan_xid.sql")["xid"]
        recorded = runs.begin(
            conn,
            key=run_key,
            dag_id=dag_id,
            run_id=run_id,
            cutoffs=cutoffs,
            settings=req.to_dict(),
            dify_version=version.version,
            db_now=server["now"],
            claim=not req.dry_run and claim_key is None,
            checked_moments={"grace cutoff": object_cutoff},
        )
        with conn.transaction():  # after the checks: nothing changes before them
            execute(conn, "orphans/forget_old_runs.sql", {"days": FORGET_AFTER_DAYS})
    unlisted = [s.name for s in sources if s.since == "unknown"]
    if unlisted:
        log.warning("columns this package does not know, searched to be safe: %s", ", ".join(unlisted))
    return {
        "run_key": run_key,
        "claim_key": claim_key or run_key,
        "dag_id": dag_id,
        "dify_version": version.version,
        "database": server["database"],
        "cutoffs": recorded["cutoffs"],
        "now": moment.isoformat(),
        "request": req.to_dict(),
        # an id column of type uuid needs no check that its value is one
        "sources": [
            {"table": s.table, "column": s.column, "form": "uuid" if types[(s.table, s.column)] == "uuid" else s.form}
            for s in sources
        ],
        "unlisted": unlisted,
        "ranged_scans": server["server_version_num"] >= TID_RANGE_SCAN_VERSION,
        # the optional tables the SQL may name (Dify versions differ)
        "schema": {
            "has_tool_files": snap.has_table("tool_files"),
            "has_pauses": snap.has_column("workflow_pauses", "state_object_key"),
            "has_datasets": snap.has_table("datasets"),
            "has_documents": snap.has_column("documents", "data_source_info"),
            "has_offloads": snap.has_column("workflow_node_execution_offload", "file_id"),
            "has_draft_files": snap.has_column("workflow_draft_variable_files", "upload_file_id"),
        },
        "storage": store.describe(),
        "quarantine_id": quarantine_id(run_key),
        "archive_prefix": f"orphans/{key_part(dag_id)}/{key_part(run_id)}",
    }


def source_tables(ctx: dict) -> list[str]:
    """The tables the reference scan reads, each once for all its source columns."""
    return list(dict.fromkeys(s["table"] for s in ctx["sources"]))


def _table_sources(ctx: dict, table: str) -> list[dict]:
    return [s for s in ctx["sources"] if s["table"] == table]


def _cutoff_params(ctx: dict) -> dict:
    req = ctx["request"]
    params = {
        "run_key": ctx["run_key"],
        "row_cutoff": datetime.fromisoformat(ctx["cutoffs"]["row_cutoff"]),
        "object_cutoff": datetime.fromisoformat(ctx["cutoffs"]["object_cutoff"]),
    }
    if req.get("created_before"):
        moment = datetime.fromisoformat(req["created_before"])
        params["created_before"] = naive_utc(moment)
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


def _mark_params(ctx: dict, table: str) -> tuple[dict, dict]:
    columns = _table_sources(ctx, table)
    params = {
        "run_key": ctx["run_key"],
        "sources": [f"{table}.{c['column']}" for c in columns],
        "since_xid": ctx["cutoffs"]["scan_xid"],
        **filerefs.pattern_params(),
    }
    flags = {"table": table, "columns": [{"name": c["column"], "form": c["form"]} for c in columns]}
    return params, flags


def scan(connector: Connector, ctx: dict, table: str) -> dict:
    """Mark the candidates one table names through any of its source columns, a slice of heap
    pages at a time.

    Each slice is its own short statement, so a 100 GB table never holds a snapshot for hours;
    pages the table grew by during the scan are read too."""
    started = time.monotonic()
    marked = slices = 0
    base, flags = _mark_params(ctx, table)
    slice_pages = int(ctx["request"]["slice_pages"])
    with connection(connector) as conn:
        if not ctx["ranged_scans"]:
            marked = execute(conn, "orphans/mark_referenced.sql", base, ranged=False, since=False, batch=False, **flags)
            slices = 1
        low = 0
        while ctx["ranged_scans"] and low < int(fetch_one(conn, "orphans/relation_pages.sql", {"table": table})["pages"]):
            high = low + slice_pages
            bounds = {"low": f"({low},0)", "high": f"({high},0)"}
            marked += execute(
                conn, "orphans/mark_referenced.sql", {**base, **bounds}, ranged=True, since=False, batch=False, **flags
            )
            slices += 1
            low = high
    seconds = round(time.monotonic() - started, 2)
    log.info("%s (%d columns): %d candidates referenced, %d slices, %.1f s", table, len(base["sources"]), marked, slices, seconds)
    return {"table": table, "referenced": marked, "slices": slices, "seconds": seconds}


def scan_payloads(connector: Connector, store: StoreConfig, ctx: dict) -> dict:
    """Mark the candidates that live offloaded payloads and paused runs' state objects name."""
    started = time.monotonic()
    with connection(connector) as conn:
        counts = payloads.search(conn, store, ctx)
    return {**counts, "seconds": round(time.monotonic() - started, 2)}


def recheck(conn, store: StoreConfig, ctx: dict, batch: list[int]) -> int:
    """Ask every source again, each in a fresh snapshot, whether it names a candidate of this
    batch now: rows changed since the scan began (the scan read every other row) and payloads
    that appeared since. A candidate named now is kept; returns how many were."""
    named = 0
    for table in source_tables(ctx):
        params, flags = _mark_params(ctx, table)
        params.update(batch=batch, suffix=" (named during the run)")
        named += execute(conn, "orphans/mark_referenced.sql", params, ranged=False, since=True, batch=True, **flags)
    named += payloads.search(conn, store, ctx, during_collect=True)["referenced"]
    return named


def summary(connector: Connector, ctx: dict) -> dict:
    """Counts and bytes per kind: candidates, kept (and by which reference), outcomes."""
    with connection(connector) as conn:
        rows = fetch_all(conn, "orphans/summary.sql", {"run_key": ctx["run_key"]})
    out: dict = {
        "candidates": {},
        "candidate_bytes": {},
        "kept_by": {},
        "outcomes": {},
        "rows_deleted": {},
        "named_after_delete": {},
    }

    def add(section: str, key: str, n: int) -> None:
        out[section][key] = out[section].get(key, 0) + n

    for row in rows:
        kind, files = row["kind"], int(row["files"])
        if row["referenced_by"]:
            add("kept_by", row["referenced_by"], files)
            if row["rows_deleted"]:  # named in the instant between its batch's check and its deletion
                add("named_after_delete", FILE_TABLES.get(kind, kind), int(row["rows_deleted"]))
            continue
        add("candidates", kind, files)
        add("candidate_bytes", kind, int(row["bytes"]))
        if row["outcome"]:
            add("outcomes", f"{kind}: {row['outcome']}", files)
        if row["rows_deleted"]:
            add("rows_deleted", FILE_TABLES.get(kind, kind), int(row["rows_deleted"]))
    return out


def payload_kinds(ctx: dict) -> list[str]:
    have = {"workflow_node_execution_offload": "has_offloads", "workflow_draft_variable_files": "has_draft_files"}
    have["workflow_pauses"] = "has_pauses"
    return [p.name for p in filerefs.PAYLOADS if ctx["schema"][have[p.table]]]


def searched(ctx: dict) -> dict[str, str]:
    """What was searched before a candidate was judged orphaned, by kind (the CSV's last column)."""
    texts = (
        f"{len(ctx['sources'])} columns of {len(source_tables(ctx))} tables (sources.csv)"
        f" and {len(payload_kinds(ctx))} kinds of payload objects ({', '.join(payload_kinds(ctx)) or 'none in this Dify'})"
    )
    named = "its key named by upload_files, tool_files, workflow_pauses, datasets (keyword files), documents (website crawls)"
    return {
        "searched_rows": f"file id, dify-file-ref and key in {texts}; {named}",
        "searched_objects": f"key in {texts}; {named}",
    }


def write_csv(connector: Connector, report_store: StoreConfig, ctx: dict) -> dict:
    """Every candidate as CSV in the report store, streamed from PostgreSQL (bounded memory),
    with what was searched; and beside it ``sources.csv``, every source searched."""
    base = f"{report_store.prefix}{ctx['archive_prefix']}"
    key = f"{base}/candidates.csv"
    op = report_store.operator()
    rows = -1  # the header line
    with connection(connector) as conn, conn.cursor() as cur, op.open(key, "wb") as out:
        with cur.copy(render("orphans/candidates_csv.sql"), {"run_key": ctx["run_key"], **searched(ctx)}) as copy:
            for chunk in copy:
                block = bytes(chunk)
                rows += block.count(b"\n")
                out.write(block)
    catalog = {s.name: s for s in filerefs.SOURCES}
    listing = io.StringIO()
    table = csv.writer(listing)
    table.writerow(["source", "form", "since", "what"])
    for src in ctx["sources"]:
        name = f"{src['table']}.{src['column']}"
        known = catalog.get(name)
        table.writerow([name, src["form"], known.since if known else "unknown", known.what if known else "not in the catalog"])
    for payload in filerefs.PAYLOADS:
        if payload.name in payload_kinds(ctx):
            table.writerow([payload.name, "payload object", payload.since, payload.what])
    op.write(f"{base}/sources.csv", listing.getvalue().encode())
    return {"store": report_store.describe(), "key": key, "sources_key": f"{base}/sources.csv", "rows": max(rows, 0)}


def _archive_writer(ctx: dict, archive_store: StoreConfig | None) -> ArchiveWriter | None:
    if not (ctx["request"]["archive"] and archive_store is not None):
        return None
    return ArchiveWriter(
        archive_store, ctx["archive_prefix"] + "/rows", {"run_key": ctx["run_key"], "dify_version": ctx["dify_version"]}
    )


class _Collector:
    """A real run's changes, batch by batch, in the only safe order: every source asked again
    about the batch, then its orphan rows deleted (archived first), then their objects moved."""

    def __init__(self, conn, store: StoreConfig, ctx: dict, writer: ArchiveWriter | None) -> None:
        self.conn, self.store, self.ctx, self.writer = conn, store, ctx, writer
        self.req = ctx["request"]
        self.box = Quarantine(store, ctx["quarantine_id"])
        self.object_cutoff = datetime.fromisoformat(ctx["cutoffs"]["object_cutoff"])
        self.columns = snapshot(conn).columns
        self.batches = 0
        self.counts: dict = {"named_during_run": 0, "rows_deleted": {}, "objects": {}}

    def rows(self, kind: str) -> None:
        """Orphan rows of one kind: recheck, delete (archived), then move their objects."""
        table = FILE_TABLES[kind]
        row_cutoff = _cutoff_params(self.ctx)["row_cutoff"]
        while True:
            with self.conn.transaction():
                state.heartbeat(self.conn, self.ctx["claim_key"])
                picked = fetch_all(
                    self.conn,
                    "orphans/row_batch.sql",
                    {"run_key": self.ctx["run_key"], "kind": kind, "batch": self.req["batch_size"]},
                )
                if not picked:
                    return
                ids = [r["id"] for r in picked]
                self.counts["named_during_run"] += recheck(self.conn, self.store, self.ctx, ids)
                rows = fetch_all(self.conn, "orphans/still_orphans.sql", {"ids": ids})
                self.batches += 1
                bind = {"file_ids": [r["file_id"] for r in rows], "row_cutoff": row_cutoff}
                flags = {"table": table, "has_created_at": kind == "upload_file"}
                if self.writer:
                    upload = self.writer.begin_batch(FILES_FAMILY, table, self.batches)
                    with self.conn.cursor() as cur:
                        part = copy_out(
                            cur, render("orphans/delete_rows.sql", copy=True, **flags), bind, table, self.columns[table]
                        )
                    upload.add(part)
                    upload.finish()
                    n = part.rows
                else:
                    n = execute(self.conn, "orphans/delete_rows.sql", bind, copy=False, **flags)
                execute(self.conn, "orphans/mark_rows_deleted.sql", {"ids": [r["id"] for r in rows]})
            self.counts["rows_deleted"][table] = self.counts["rows_deleted"].get(table, 0) + n
            self._move([r["id"] for r in rows])

    def objects(self) -> None:
        """Objects no row names: recheck by key, then move."""
        while True:
            picked = fetch_all(
                self.conn, "orphans/object_ids.sql", {"run_key": self.ctx["run_key"], "batch": self.req["batch_size"]}
            )
            if not picked:
                return
            ids = [r["id"] for r in picked]
            with self.conn.transaction():
                self.counts["named_during_run"] += recheck(self.conn, self.store, self.ctx, ids)
            self._move(ids)

    def _move(self, ids: list[int]) -> None:
        """Move the objects of these candidates, unless a live row names the key now. Each
        batch's outcomes are recorded after its moves, so a retry redoes at most one batch
        (moves are idempotent); a candidate named since is kept."""
        if not ids:
            return
        rows = fetch_all(self.conn, "orphans/object_batch.sql", {"ids": ids}, **self.ctx["schema"])
        named = [r for r in rows if r["still_named"]]
        movable = [r for r in rows if not r["still_named"]]
        self.batches += 1
        outcomes = self.box.move_batch(
            self.batches,
            [{"key": r["key"], "kind": r["kind"], "file_id": str(r["file_id"]) if r["file_id"] else None} for r in movable],
            self.object_cutoff,
        )
        results = ["kept: named by a live row"] * len(named) + outcomes
        with self.conn.transaction():
            state.heartbeat(self.conn, self.ctx["claim_key"])
            execute(self.conn, "orphans/set_outcomes.sql", {"ids": [r["id"] for r in named + movable], "outcomes": results})
        for outcome in results:
            self.counts["objects"][outcome] = self.counts["objects"].get(outcome, 0) + 1


def collect(connector: Connector, store: StoreConfig, archive_store: StoreConfig | None, ctx: dict) -> dict:
    """A real run's changes: orphan rows of each kind (recheck, delete archived, move their
    objects), then the objects no row names (recheck, move). A retry resumes where it stopped."""
    writer = _archive_writer(ctx, archive_store)
    try:
        with connection(connector) as conn:
            collector = _Collector(conn, store, ctx, writer)
            collector.box.open(
                {"run_key": ctx["run_key"], "database": ctx["database"], "archive_prefix": ctx["archive_prefix"] + "/rows"}
            )
            for kind in FILE_TABLES:
                if kind == "upload_file" or ctx["schema"]["has_tool_files"]:
                    collector.rows(kind)
            collector.objects()
    finally:
        if writer:
            writer.close()
    counts = collector.counts
    log.info("collected: %s; quarantine %s", counts, ctx["quarantine_id"])
    return counts


def csv_rows(data: bytes) -> list[dict]:
    """Parse a candidates CSV (tests and the restore check read it back)."""
    return list(csv.DictReader(io.StringIO(data.decode())))


def build_report(
    ctx: dict, listed: dict, final: dict, csv_info: dict, collected: dict, emptied: dict, complete: bool, payloads_read: dict
) -> dict:
    """The run's report as data (history keeps it); ``render_lines`` makes it readable."""
    return {
        "run_key": ctx["run_key"],
        "dag_id": ctx["dag_id"],
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
        "named_after_delete": final["named_after_delete"],
        "csv": csv_info,
        "quarantine_id": ctx["quarantine_id"] if final["outcomes"] else None,
        "archive_prefix": ctx["archive_prefix"] + "/rows" if final["rows_deleted"] else None,
        "named_during_run": collected.get("named_during_run", 0),
        "sources_searched": len(ctx["sources"]),
        "tables_searched": len(source_tables(ctx)),
        "payload_kinds": payload_kinds(ctx),
        "unlisted_sources": ctx.get("unlisted", []),
        "payloads": payloads_read,
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
        f"searched {rep['sources_searched']} columns of {rep['tables_searched']} tables for file ids, dify-file-refs and keys, "
        f"and {rep['payloads'].get('read', 0):,} payload objects ({_mb(rep['payloads'].get('bytes', 0))}: "
        f"{', '.join(rep['payload_kinds']) or 'none in this Dify'})",
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
    if rep["named_during_run"]:
        lines.append(f"named during the run (asked again before moving), so kept: {rep['named_during_run']:,}")
    if rep["named_after_delete"]:
        lines.append(
            "named after their row was deleted (object kept; put the rows back with dify_restore_archive): "
            f"{rep['named_after_delete']}"
        )
    if rep["unlisted_sources"]:
        lines.append(f"columns this package does not know, searched to be safe: {', '.join(rep['unlisted_sources'])}")
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
    for table in source_tables(ctx):
        scan(connector, ctx, table)
    payloads_read = scan_payloads(connector, store, ctx)
    csv_info = write_csv(connector, archive_store, ctx) if archive_store is not None else {}
    collected = {} if req.dry_run else collect(connector, store, archive_store, ctx)
    return build_report(ctx, listed, summary(connector, ctx), csv_info, collected, {}, True, payloads_read)
