"""Giving disk space back after a purge: measure, choose a strategy per table, run it.

A retention purge deletes the *oldest* rows, the head of an append-mostly heap, so plain VACUUM
makes the space reusable but never returns it to the operating system. Weekly runs need nothing more; the
first big purge before an upgrade needs a rewrite. Each table gets the gentlest rewrite that
works here, with the reason stated:

* ``repack``: pg_repack, online; only when the extension and a matching client exist.
* ``rebuild``: copy the kept rows into a new table with the same definition and swap it in. Writes
  wait during the copy, reads wait only for the swap. Best when little is kept.
* ``vacuum_full``: rewrites under ACCESS EXCLUSIVE (reads wait too), bounded by lock_timeout and
  run only when the disk has room for the kept data.
* ``vacuum``: plain VACUUM (ANALYZE); when there is little to gain, or nothing else is possible.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from dataclasses import dataclass

import psycopg

from dify_maintenance.core import tablestats
from dify_maintenance.core.backoff import lock_timeout, with_backoff
from dify_maintenance.core.db import DbTarget, connection, execute, fetch_all, fetch_one
from dify_maintenance.core.errors import LockContention, MaintenanceError
from dify_maintenance.core.sqltemplates import render
from dify_maintenance.database import pgclient

log = logging.getLogger(__name__)

STRATEGIES = ("auto", "vacuum", "vacuum_full", "repack", "rebuild")
# Below these a rewrite does not pay: plain VACUUM makes the space reusable by new rows.
MIN_RECLAIM_FRACTION = 0.2
MIN_RECLAIM_BYTES = 8 * 1024 * 1024
# A rebuild copies the kept rows while writes wait: only worth it when few are kept.
REBUILD_MAX_KEPT_FRACTION = 0.3
# VACUUM FULL needs room for the kept data and its indexes, plus a margin for WAL.
DISK_MARGIN = 1.2
_INDEX_DEF = re.compile(r'^CREATE (UNIQUE )?INDEX (?:"(?:[^"]|"")+"|\S+) ON (?:ONLY )?(?:"(?:[^"]|"")+"|\S+) USING (.+)$', re.S)


class ReclaimRefused(MaintenanceError):
    """A rewrite was asked for but cannot run safely here; nothing was changed."""


@dataclass(frozen=True)
class Capabilities:
    """What this database and worker offer for reclaiming space."""

    pgstattuple: bool
    repack_reason: str | None  # None when pg_repack can run
    free_disk_bytes: int | None  # None when the server's disk cannot be checked from here
    server_version_num: int

    @property
    def repack(self) -> bool:
        return self.repack_reason is None


def capabilities(conn: psycopg.Connection, *, check_repack: bool = True) -> Capabilities:
    """What this database and worker offer. ``check_repack=False`` skips the search for a pg_repack
    client (subprocesses), for callers that never rewrite."""
    installed = tablestats.installed_extensions(conn, ["pgstattuple", "pg_repack"])
    server = fetch_one(conn, "introspect/server.sql")
    return Capabilities(
        pgstattuple="pgstattuple" in installed,
        repack_reason=_repack_reason(installed.get("pg_repack"), int(server["server_version_num"]) // 10000)
        if check_repack
        else "not checked",
        free_disk_bytes=_free_disk(conn),
        server_version_num=int(server["server_version_num"]),
    )


def _repack_reason(extension_version: str | None, server_major: int) -> str | None:
    if extension_version is None:
        return "the pg_repack extension is not installed in this database"
    try:
        client = pgclient.find("pg_repack", 0)
    except pgclient.ClientNotFound:
        return "no pg_repack client on this worker"
    out = pgclient.run(client, ["--version"], None)
    if extension_version not in out:
        return f"pg_repack client ({out.strip()}) does not match the extension {extension_version}"
    return None


def _free_disk(conn: psycopg.Connection) -> int | None:
    """Free bytes on the server's data disk, when the server runs on this machine."""
    row = fetch_one(conn, "reclaim/data_directory.sql")
    if not row or not row["data_directory"] or not row["local_server"]:
        return None
    try:
        return shutil.disk_usage(row["data_directory"]).free
    except OSError:
        return None


def table_stats(conn: psycopg.Connection, table: str, caps: Capabilities) -> dict:
    """Size, live and dead tuples, and reclaimable bytes, measured (pgstattuple_approx) or estimated."""
    return tablestats.measure(conn, table, caps.pgstattuple)


def predict_after_purge(stats: dict, rows_deleted: int) -> dict:
    """The measurements a real run takes after deleting ``rows_deleted`` live rows: their share of
    the occupied heap joins the space already free (what pgstattuple_approx, or the estimate
    after ANALYZE, reports then). Marked ``predicted``."""
    live = max(int(stats["live_tuples"]), 1)
    share = min(rows_deleted / live, 1.0)
    occupied = max(int(stats["heap_bytes"]) - int(stats["reclaimable_bytes"]), 0)
    predicted = {
        **stats,
        "live_tuples": max(int(stats["live_tuples"]) - rows_deleted, 0),
        "dead_tuples": int(stats["dead_tuples"]) + rows_deleted,
        "reclaimable_bytes": int(stats["reclaimable_bytes"]) + int(occupied * share),
        "predicted": True,
    }
    predicted["reclaimable_fraction"] = round(min(predicted["reclaimable_bytes"] / max(int(stats["heap_bytes"]), 1), 1.0), 4)
    return predicted


def rebuild_blockers(conn: psycopg.Connection, table: str) -> list[str]:
    return [r["blocker"] for r in fetch_all(conn, "reclaim/definition_blockers.sql", {"table": table})]


def choose(
    conn: psycopg.Connection,
    table: str,
    requested: str,
    stats: dict,
    caps: Capabilities,
    *,
    disk_check: bool = True,
    min_bytes: int = MIN_RECLAIM_BYTES,
) -> tuple[str, str]:
    """(strategy, reason) for one table. An explicit request is honoured when it can run; when it
    cannot, the table gets plain VACUUM and the reason says why."""
    if requested not in STRATEGIES:
        raise MaintenanceError(f"reclaim strategy must be one of {', '.join(STRATEGIES)}, got {requested!r}")
    gain = stats["reclaimable_bytes"]
    kept_bytes = max(stats["total_bytes"] - gain, 0)
    if requested == "vacuum":
        return "vacuum", "asked for plain VACUUM"
    if requested == "auto" and (stats["reclaimable_fraction"] < MIN_RECLAIM_FRACTION or gain < min_bytes):
        return (
            "vacuum",
            f"only {gain / 1e6:.1f} MB ({stats['reclaimable_fraction']:.0%}) reclaimable: plain VACUUM makes it reusable",
        )
    if requested in ("auto", "repack") and caps.repack:
        return "repack", f"pg_repack available: online rewrite, {gain / 1e6:.1f} MB to gain"
    if requested == "repack":
        return "vacuum", f"pg_repack asked for but {caps.repack_reason}"
    blockers = rebuild_blockers(conn, table) if requested in ("auto", "rebuild") else []
    kept_fraction = 1 - stats["reclaimable_fraction"]
    if requested == "rebuild" or (requested == "auto" and kept_fraction <= REBUILD_MAX_KEPT_FRACTION):
        if not blockers:
            return "rebuild", f"{kept_fraction:.0%} of the heap is kept: copying it is cheaper than rewriting in place"
        if requested == "rebuild":
            return "vacuum", "rebuild asked for but not possible: " + ", ".join(blockers)
    disk_problem = _disk_problem(kept_bytes, caps, disk_check)
    if disk_problem:
        return "vacuum", f"VACUUM FULL not safe: {disk_problem}"
    reason = f"{gain / 1e6:.1f} MB reclaimable; rewrite in place under a bounded ACCESS EXCLUSIVE lock"
    if blockers:
        reason += f" (rebuild not possible: {', '.join(blockers)})"
    return "vacuum_full", reason


def _disk_problem(kept_bytes: int, caps: Capabilities, disk_check: bool) -> str | None:
    if not disk_check:
        return None
    if caps.free_disk_bytes is None:
        return "free disk on the database server cannot be checked from here (turn the disk check off to allow it)"
    needed = int(kept_bytes * DISK_MARGIN)
    if caps.free_disk_bytes < needed:
        return f"needs about {needed / 1e6:.0f} MB free, the server's disk has {caps.free_disk_bytes / 1e6:.0f} MB"
    return None


# ---------------------------------------------------------------- running a strategy


def run(target: DbTarget, table: str, strategy: str, *, lock_timeout_ms: int = 2000, lock_retries: int = 5) -> dict:
    """Run one strategy on one table; returns timings. VACUUM runs outside any transaction."""
    started = time.monotonic()
    if strategy == "vacuum":
        with connection(target) as conn:
            execute(conn, "vacuum/vacuum_analyze.sql", table=table)
        return {"seconds": round(time.monotonic() - started, 3), "exclusive_seconds": 0.0}
    if strategy == "vacuum_full":
        with connection(target) as conn:
            _with_lock_retries(lambda: _vacuum_full(conn, table, lock_timeout_ms), table, lock_retries)
        elapsed = round(time.monotonic() - started, 3)
        return {"seconds": elapsed, "exclusive_seconds": elapsed}
    if strategy == "repack":
        client = pgclient.find("pg_repack", 0)
        wait = max(lock_timeout_ms // 1000, 1)
        pgclient.run(client, [f"--table=public.{table}", f"--wait-timeout={wait}", "--no-kill-backend", "--no-password"], target)
        return {"seconds": round(time.monotonic() - started, 3), "exclusive_seconds": None}
    if strategy == "rebuild":
        return rebuild(target, table, lock_timeout_ms=lock_timeout_ms, lock_retries=lock_retries)
    raise MaintenanceError(f"unknown reclaim strategy {strategy!r}")


def _vacuum_full(conn: psycopg.Connection, table: str, lock_timeout_ms: int) -> None:
    fetch_one(conn, "reclaim/set_lock_timeout.sql", {"lock_timeout": f"{lock_timeout_ms}ms"})
    try:
        execute(conn, "reclaim/vacuum_full.sql", table=table)
    finally:
        fetch_one(conn, "reclaim/set_lock_timeout.sql", {"lock_timeout": "0"})


def _with_lock_retries(step, table: str, retries: int):
    return with_backoff(
        step,
        what=table,
        retries=retries,
        retryable=lock_timeout,
        give_up=lambda _exc, tries: LockContention(f"{table}: could not get the lock after {tries} tries; nothing was changed"),
    )


@dataclass
class _IndexPlan:
    name: str
    temp_name: str
    unique: bool
    old_name: str
    method_and_keys: str  # the server's own pg_get_indexdef text after USING
    constraint_name: str | None
    constraint_type: str | None
    deferrable: bool
    deferred: bool


def _temp_name(prefix: str, table: str, n: int | None = None) -> str:
    suffix = "" if n is None else f"_{n}"
    return f"{prefix}{table}"[: 63 - len(suffix)] + suffix


def rebuild(
    target: DbTarget,
    table: str,
    *,
    keep_column: str | None = None,
    keep_from: object = None,
    lock_timeout_ms: int = 2000,
    lock_retries: int = 5,
) -> dict:
    """Copy-and-swap in one transaction: a crash at any point leaves the old table untouched.

    Writes wait from the start (EXCLUSIVE lock: the copy must not miss a row); readers wait only
    from the ACCESS EXCLUSIVE lock of the swap to the commit. ``keep_column``/``keep_from`` copy
    only rows with ``keep_column >= keep_from`` (a purge by rebuild); by default every row stays.
    """
    started = time.monotonic()
    with connection(target) as conn:
        blockers = rebuild_blockers(conn, table)
        if blockers:
            raise ReclaimRefused(f"{table} cannot be rebuilt safely: {', '.join(blockers)}")
        shape = fetch_all(conn, "reclaim/rebuild_shape.sql", {"table": table})
        new_table = _temp_name("dm_rebuild_", table)
        old_table = _temp_name("dm_old_", table)
        # a swapped-out table whose drop did not happen (crash right after a swap): finish the job
        execute(conn, "reclaim/drop_table.sql", table=old_table)
        indexes = []
        for n, row in enumerate(r for r in shape if r["kind"] == "index"):
            match = _INDEX_DEF.match(row["detail"])
            if not match:
                raise ReclaimRefused(f"{table}: index {row['name']} has a definition this rebuild does not understand")
            indexes.append(
                _IndexPlan(
                    name=row["name"],
                    temp_name=_temp_name("dm_rb_", table, n),
                    old_name=_temp_name("dm_old_", table, n),
                    unique=bool(match.group(1)),
                    method_and_keys=match.group(2),
                    constraint_name=row["constraint_name"],
                    constraint_type=row["constraint_type"],
                    deferrable=row["deferrable"],
                    deferred=row["deferred"],
                )
            )
        owner = next(r["name"] for r in shape if r["kind"] == "owner")
        replica = next(r["detail"] for r in shape if r["kind"] == "replica identity")
        replica_index = next((r["name"] for r in shape if r["kind"] == "index" and r["replica_identity"]), None)
        context = {
            "table": table,
            "new_table": new_table,
            "old_table": old_table,
            "columns": [r["name"] for r in shape if r["kind"] == "column"],
            "indexes": indexes,
            "sequences": [{"name": r["name"], "column": r["detail"]} for r in shape if r["kind"] == "owned sequence"],
            "owner": owner,
            "grants": [
                {"grantee": r["name"], "privilege": r["detail"], "grantable": r["deferrable"]}
                for r in shape
                if r["kind"] == "grant"
            ],
            "options": [{"name": r["name"], "value": r["detail"]} for r in shape if r["kind"] == "option"],
            "replica_identity": replica,
            "replica_index": replica_index,
            "comment": next((r["detail"] for r in shape if r["kind"] == "comment"), None),
            "keep_column": keep_column,
            "keep_from": keep_from,
            "lock_timeout_ms": lock_timeout_ms,
            "compression": int(fetch_one(conn, "introspect/server.sql")["server_version_num"]) >= 140000,
        }
        before = fetch_one(conn, "tablestats/stats_estimate.sql", {"table": table})

        def attempt() -> dict:
            with conn.transaction():
                conn.execute(render("reclaim/rebuild_copy.sql", **context))
                copied_at = time.monotonic()
                kept = fetch_one(conn, "introspect/count_rows.sql", table=new_table)
                _lock_with_retries(conn, table, lock_retries)
                locked_at = time.monotonic()
                conn.execute(render("reclaim/rebuild_swap.sql", **{**context, "indexes": indexes}))
            done = time.monotonic()
            execute(conn, "reclaim/drop_table.sql", table=old_table)
            return {
                "copy_seconds": round(copied_at - started, 3),
                "exclusive_seconds": round(done - locked_at, 3),
                "drop_seconds": round(time.monotonic() - done, 3),
                "rows_kept": int(kept["rows"]),
            }

        timings = _with_lock_retries(attempt, table, lock_retries)
        after = fetch_one(conn, "tablestats/stats_estimate.sql", {"table": table})
    result = {
        "seconds": round(time.monotonic() - started, 3),
        **timings,
        "bytes_before": int(before["total_bytes"]),
        "bytes_after": int(after["total_bytes"]),
    }
    log.info("rebuild %s: %s", table, result)
    return result


def _lock_with_retries(conn: psycopg.Connection, table: str, retries: int) -> None:
    """Take the swap lock inside the rebuild's transaction; a timeout rolls back to a savepoint
    and tries again, so the copy already made is not thrown away."""

    def lock() -> None:
        with conn.transaction():
            execute(conn, "reclaim/rebuild_lock.sql", table=table)

    with_backoff(lock, what=f"{table}: the swap lock", retries=retries, retryable=lock_timeout)


def definition(conn: psycopg.Connection, table: str) -> list[tuple[str, str, str]]:
    """A table's full definition as comparable rows (used to prove a rebuild changed nothing)."""
    return [(r["kind"], r["name"], r["definition"]) for r in fetch_all(conn, "reclaim/definition.sql", {"table": table})]
