"""The batched purge: walk a family's roots in short transactions, children first.

Every batch is one transaction that (1) selects a window of root rows, (2) drops from it the
rows a keep rule protects, (3) deletes the descendants and then the roots (streaming each
deleted row into the archive when archiving), (4) writes the archive objects, and (5) saves the
walk's cursor and counters in ``dify_maintenance.progress``. All of it commits together, so a
killed worker resumes on retry exactly where the last commit left it.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import errors as pg_errors

from dify_maintenance.core import catalog, state
from dify_maintenance.core.catalog import Family
from dify_maintenance.core.db import Connector, connection, execute, fetch_all, fetch_one
from dify_maintenance.core.errors import LockContention, MaintenanceError
from dify_maintenance.core.policy import MAX_BATCH, MIN_BATCH, Policy
from dify_maintenance.core.schema import SchemaSnapshot, snapshot
from dify_maintenance.core.sqltemplates import render
from dify_maintenance.retention import health, indexes, statements
from dify_maintenance.retention.archive import ArchiveWriter, TablePart, copy_out
from dify_maintenance.retention.batching import BatchSizer
from dify_maintenance.retention.plan import HeapExtent, OrphanPlan, RootPlan, cutoff, heap_extent, plan_orphans, plan_root
from dify_maintenance.retention.progress import Reporter, estimate_expired

log = logging.getLogger(__name__)


# Batches up to this many roots are held to index plans (see purge/session.sql); a bigger one
# (the benchmark's one-shot bound) leaves the join methods to the planner.
INDEX_PLANS_MAX_BATCH = 10_000


def _session(conn: psycopg.Connection, policy: Policy, index_plans: bool) -> None:
    fetch_one(
        conn,
        "purge/session.sql",
        {
            "statement_timeout": f"{policy.statement_timeout_ms}ms",
            "lock_timeout": f"{policy.lock_timeout_ms}ms",
            "hash_joins": "off" if index_plans else "on",
        },
    )


class _JoinMethods:
    """Switches hash and merge joins on only around the statements that need them."""

    def __init__(self, conn: psycopg.Connection, index_plans: bool) -> None:
        self.conn, self.index_plans, self.hashing = conn, index_plans, not index_plans

    def for_statement(self, scans: bool) -> None:
        want = scans or not self.index_plans
        if want != self.hashing:
            fetch_one(self.conn, "purge/join_methods.sql", {"hash_joins": "on" if want else "off"})
            self.hashing = want


@contextmanager
def _batch_transaction(conn: psycopg.Connection, policy: Policy, ctx: dict, index_plans: bool = False) -> Generator[None]:
    """One batch = one short transaction with local timeouts; a real one first proves it still
    holds the maintenance claim (a read; see ``state.check_in``). A dry run writes nothing of
    Dify's (its statements only count), only its ledger in our schema, and commits that."""
    with conn.transaction():
        _session(conn, policy, index_plans)
        if not policy.dry_run:
            state.check_in(conn, ctx["run_key"])
        yield


def _delete_mode(policy: Policy) -> str:
    if policy.dry_run:
        return "count"
    return "copy" if policy.archive else "delete"


def _run_step(
    conn: psycopg.Connection, template: str, mode: str, params: dict, columns: list[str], **ctx: object
) -> tuple[int, TablePart | None]:
    table = str(ctx["table"])
    query = render(template, mode=mode, **ctx)
    with conn.cursor() as cur:
        if mode == "count":
            cur.execute(query, params)
            row = cur.fetchone()
            return int(row["n"]), None
        if mode == "delete":
            cur.execute(query, params)
            return cur.rowcount, None
        part = copy_out(cur, query, params, table, columns)
        return part.rows, part


def _with_lock_retries(policy: Policy, what: str, attempt_batch) -> object:
    """Run one batch; a lock timeout rolls it back, waits longer each time and tries again."""
    for attempt in range(policy.lock_retries + 1):
        try:
            return attempt_batch()
        except pg_errors.LockNotAvailable as exc:
            if attempt == policy.lock_retries:
                raise LockContention(
                    f"{what}: gave up after {attempt + 1} lock timeouts of {policy.lock_timeout_ms} ms; "
                    "a live transaction holds the rows. Nothing of this batch was deleted; rerun later."
                ) from exc
            delay = min(0.2 * 2**attempt, 30.0)
            log.warning("%s: lock timeout (attempt %d), backing off %.1fs", what, attempt + 1, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


# A batch is redone at most this often (each redo leaves out at least one more root, so this only
# bounds a pathological writer that touches a new root of the same batch every time).
MAX_REDOS = 20
CONCURRENT_WRITE = "written to while its batch ran (left for the next run)"


class _ConcurrentWrite(Exception):
    """The batch's re-check found roots a concurrent write touched: roll back, redo without them."""

    def __init__(self, keys: list[str]) -> None:
        super().__init__(f"{len(keys)} roots written to during the batch")
        self.keys = keys


@dataclass(frozen=True)
class _RootWalk:
    """What stays the same for every batch of one root's walk."""

    conn: psycopg.Connection
    plan: RootPlan
    ctx: dict
    policy: Policy
    family: str
    writer: ArchiveWriter | None
    snap: SchemaSnapshot
    extent: HeapExtent | None = None


def _root_batch(walk: _RootWalk, stage: state.Progress, limit: int) -> state.Progress:
    """One batch, redone without the roots that a live Dify wrote under while it ran (a new child,
    a moved ``updated_at``): those stay, whole, until a later run finds them expired again."""
    excluded: list[str] = []
    name = f"{walk.family}/{walk.plan.root.name}"
    halvings = 0
    for attempt in range(MAX_REDOS + 1):
        # from the second redo on, half the size each time: a batch that a busy writer keeps
        # touching gets short enough to finish between two of its writes
        size = max(MIN_BATCH, limit >> (max(0, attempt - 1) + halvings))
        try:
            return _root_batch_once(walk, stage, size, excluded)
        except pg_errors.QueryCanceled:
            # a statement of the batch ran into statement_timeout_ms: the batch rolled back whole;
            # try it again at half the size (a batch of MIN_BATCH that still times out is a fault)
            if size <= MIN_BATCH:
                raise
            halvings += 1
            log.warning("%s: a statement of a %d-row batch hit the statement timeout; retrying at half size", name, size)
        except _ConcurrentWrite as redo:
            fresh = [key for key in redo.keys if key not in excluded]
            if not fresh:  # cannot happen: every offender is a candidate, and excluded roots are none
                raise MaintenanceError(f"{name}: a redone batch found the same roots again") from redo
            excluded.extend(fresh)
            log.info("%s: %d roots written to during the batch; redoing it without them", name, len(fresh))
    raise LockContention(
        f"{name}: a live writer touched the batch's rows {MAX_REDOS} times in a row; "
        "nothing of this batch was deleted; rerun later"
    )


def _root_batch_once(walk: _RootWalk, stage: state.Progress, limit: int, excluded: list[str]) -> state.Progress:
    conn, plan, ctx, policy, family = walk.conn, walk.plan, walk.ctx, walk.policy, walk.family
    writer, snap, extent = walk.writer, walk.snap, walk.extent
    tmpl = plan.template
    params = {**plan.params, "cutoff": cutoff(ctx, family), "limit": limit, "run_key": ctx["run_key"], "excluded": excluded}
    has_cursor = stage.cursor is not None
    blocks: tuple[int, int, int] | None = None
    if plan.walk == "ctid":
        assert extent is not None
        start, end = (stage.cursor["block"], stage.cursor["end"]) if has_cursor else (0, extent.blocks)
        blocks = (start, min(start + extent.blocks_for(limit), end), end)
        params["from_tid"], params["to_tid"] = f"({blocks[0]},0)", f"({blocks[1]},0)"
    elif has_cursor:
        params["after_key"] = stage.cursor["key"]
        if plan.walk == "keyset":
            params["after_ts"] = datetime.fromisoformat(stage.cursor["ts"])
    mode = _delete_mode(policy)
    started = time.monotonic()
    new = copy.deepcopy(stage)
    upload = None
    try:
        index_plans = limit <= INDEX_PLANS_MAX_BATCH
        joins = _JoinMethods(conn, index_plans)
        with _batch_transaction(conn, policy, ctx, index_plans):
            window = fetch_one(
                conn,
                "purge/select_window.sql",
                params,
                cand=plan.cand,
                has_cursor=has_cursor,
                has_exclusions=bool(excluded),
                **tmpl,
            )
            assert window is not None
            root_counter = new.counter(plan.root.table)
            root_counter["matched"] += int(window["matched"]) + len(excluded)
            if excluded:
                root_counter["kept"][CONCURRENT_WRITE] = root_counter["kept"].get(CONCURRENT_WRITE, 0) + len(excluded)
            execute(conn, "purge/analyze_candidates.sql", cand=plan.cand)
            for rule in plan.keep_rules:
                stmt = statements.keep(plan, rule, index_plans)
                joins.for_statement(stmt.scans)
                row = fetch_one(conn, stmt.template, params, **stmt.context)
                kept = int(row["kept"]) if row else 0
                if kept:
                    root_counter["kept"][rule.reason] = root_counter["kept"].get(rule.reason, 0) + kept
            upload = writer.begin_batch(family, plan.root.name, stage.batches + 1) if writer else None
            for stmt, table, is_root in [
                *((statements.delete_path(plan, path), path.table, False) for path in plan.paths),
                (statements.delete_root(plan), plan.root.table, True),
            ]:
                joins.for_statement(stmt.scans)
                columns = list(snap.columns[table])
                n, part = _run_step(conn, stmt.template, mode, {**params, "ledger_table": table}, columns, **stmt.context)
                _count(new, table, n, part, policy.dry_run, is_root=is_root)
                if upload is not None:
                    upload.add(part)
            if not policy.dry_run:
                stmt = statements.offenders(plan)
                offenders = fetch_all(conn, stmt.template, params, **stmt.context)
                if offenders:
                    raise _ConcurrentWrite([row["key"] for row in offenders])
            new.batches += 1
            if blocks is not None:
                new.cursor = {"block": blocks[1], "end": blocks[2]}
                new.done = blocks[1] >= blocks[2]
            else:
                if window["last_key"] is None or int(window["scanned"]) < limit:
                    new.done = True
                if window["last_key"] is not None:
                    new.cursor = {"key": window["last_key"]}
                    if plan.walk == "keyset":
                        new.cursor["ts"] = window["last_ts"].isoformat()
            new.seconds += time.monotonic() - started
            if upload is not None:
                upload.finish()
            if not policy.dry_run:
                state.save_progress(conn, ctx["run_key"], new)
    except BaseException:
        if upload is not None:
            upload.abandon()
        raise
    return new


def _count(progress: state.Progress, table: str, n: int, part: TablePart | None, dry_run: bool, is_root: bool) -> None:
    """Add one statement's rows to the table's counters (a dry run only says what it would do)."""
    counter = progress.counter(table)
    if dry_run:
        counter["would_delete"] = counter.get("would_delete", 0) + n
        return
    counter["deleted"] += n
    if not is_root:
        counter["matched"] += n
    if part is not None:
        counter["archived"] += part.rows


def _orphan_batch(
    conn: psycopg.Connection,
    plan: OrphanPlan,
    stage: state.Progress,
    ctx: dict,
    policy: Policy,
    family: str,
    writer: ArchiveWriter | None,
    snap: SchemaSnapshot,
    ledger: frozenset[str] = frozenset(),
) -> state.Progress:
    window_size = max(policy.batch_size * 10, 1000)
    params: dict = {"cutoff": cutoff(ctx, family), "limit": window_size, "run_key": ctx["run_key"], "ledger_table": plan.table}
    has_cursor = stage.cursor is not None
    if has_cursor:
        for i, value in enumerate(stage.cursor["keys"]):
            params[f"after_{i}"] = value
    ctx_t = {
        "cand": plan.cand,
        "table": plan.table,
        "keys": plan.keys,
        "parent_table": plan.parent_table,
        "parent_column": plan.parent_column,
        "parent_key": plan.parent_key,
        "recency": plan.recency,
        "null_is_orphan": plan.null_is_orphan,
    }
    mode = _delete_mode(policy)
    started = time.monotonic()
    new = copy.deepcopy(stage)
    with _batch_transaction(conn, policy, ctx):
        window = fetch_one(conn, "purge/orphan_window.sql", params, has_cursor=has_cursor, **ctx_t)
        assert window is not None
        counter = new.counter(plan.table)
        n, part = _run_step(
            conn,
            "purge/delete_orphans.sql",
            mode,
            params,
            list(snap.columns[plan.table]),
            table=plan.table,
            cand=plan.cand,
            keys=plan.keys,
            ledger_key=plan.keys[0] if plan.table in ledger and len(plan.keys) == 1 else None,
        )
        counter["orphans"] = counter.get("orphans", 0) + n
        _count(new, plan.table, n, part, policy.dry_run, is_root=False)
        new.batches += 1
        if window["last_0"] is None or int(window["scanned"]) < window_size:
            new.done = True
        if window["last_0"] is not None:
            new.cursor = {"keys": [window[f"last_{i}"] for i in range(len(plan.keys))]}
        new.seconds += time.monotonic() - started
        if writer:
            upload = writer.begin_batch(family, plan.stage, new.batches)
            upload.add(part)
            upload.finish()
        if not policy.dry_run:
            state.save_progress(conn, ctx["run_key"], new)
    return new


def purge_family(
    connector: Connector,
    ctx: dict,
    fam: Family,
    policy: Policy,
    writer: ArchiveWriter | None,
    stop: Callable[[], str | None] | None = None,
) -> dict:
    """Purge one family to completion (or resume it); returns its counters and notes.

    Before every batch ``stop`` (operator stop switch, time budget) is asked and the health gate
    waits out red signals; a reason from either ends the purge after the last committed batch and
    the family is reported as deferred, never as done. Batch size adapts per root.
    """
    reporter = Reporter(fam.name)
    gate = health.Gate(policy)
    sizes: dict[str, list[int]] = {}
    deferred: str | None = None
    notes: list[str] = []
    walks: dict[str, str] = {}
    stages: list[state.Progress] = []
    started = time.monotonic()
    with connection(connector) as conn:
        ledger = (
            catalog.ledger_tables(tuple(ctx["families"]) or (fam.name,), policy.keep_curated) if policy.dry_run else frozenset()
        )
        snap, plans, prep = _prepare_family(conn, fam, policy, ledger)
        notes.extend(prep.notes)
        if prep.blocked:
            deferred = "blocked by a missing index: " + "; ".join(prep.blocked)
        progress = {} if policy.dry_run else state.load_progress(conn, ctx["run_key"], fam.name)
        for root in fam.roots if not deferred else ():
            plan = plans.get(root.name)
            if plan is None:
                notes.append(f"{root.table}: not in this Dify version, skipped")
                continue
            notes.extend(n for n in plan.notes if n not in notes)
            walks[root.name] = f"{plan.walk}: {plan.walk_reason}"
            with conn.transaction():
                execute(conn, "purge/create_candidates.sql", cand=plan.cand, table=root.table, carry=plan.carry)
            stage = progress.get(root.name) or state.Progress(fam.name, root.name)
            extent = heap_extent(conn, root.table) if plan.walk == "ctid" and not stage.done else None
            walk = _RootWalk(conn, plan, ctx, policy, fam.name, writer, snap, extent)
            if not stage.done:
                reporter.begin(stage, root.table, None if extent else estimate_expired(conn, plan, cutoff(ctx, fam.name)))
            sizer = BatchSizer(policy.batch_size, policy.batch_target_seconds, max_size=MAX_BATCH)  # per root: rows differ
            sizes[root.name] = [sizer.size]
            while not stage.done and not (
                deferred := deferred or (stop() if stop else None) or gate.wait_until_healthy(conn, root.table)
            ):
                current = stage
                batch_started = time.monotonic()
                stage = _with_lock_retries(
                    policy,
                    f"{fam.name}/{root.name}",
                    lambda current=current, walk=walk, limit=sizer.size: _root_batch(walk, current, limit),
                )
                if policy.adaptive_batches:
                    sizes[root.name].append(sizer.record(time.monotonic() - batch_started))
                reporter.maybe(root.name, stage)
            reporter.maybe(root.name, stage, force=True)
            stages.append(stage)
        for oplan in plan_orphans(fam, snap, policy) if not deferred else ():
            with conn.transaction():
                execute(conn, "purge/create_orphans.sql", cand=oplan.cand, table=oplan.table, keys=oplan.keys)
            stage = progress.get(oplan.stage) or state.Progress(fam.name, oplan.stage)
            reporter.begin(stage, oplan.table, None)
            while not stage.done and not (
                deferred := deferred or (stop() if stop else None) or gate.wait_until_healthy(conn, oplan.table)
            ):
                current = stage
                stage = _with_lock_retries(
                    policy,
                    f"{fam.name}/{oplan.stage}",
                    lambda current=current, oplan=oplan: _orphan_batch(
                        conn, oplan, current, ctx, policy, fam.name, writer, snap, ledger
                    ),
                )
                reporter.maybe(oplan.stage, stage)
            stages.append(stage)
    result = summarize(fam.name, stages, notes, walks, time.monotonic() - started, policy.dry_run)
    result["deferred"] = deferred
    result["indexes"] = {"built": prep.built, "blocked": prep.blocked}
    result["batch_sizes"] = {name: {"first": v[0], "last": v[-1], "min": min(v), "max": max(v)} for name, v in sizes.items()}
    if deferred:
        log.warning("%s deferred: %s; the next run continues from the rows left", fam.name, deferred)
    return result


def _prepare_family(
    conn: psycopg.Connection, fam: Family, policy: Policy, ledger: frozenset[str]
) -> tuple[SchemaSnapshot, dict[str, RootPlan], indexes.Preparation]:
    """Plan every root; where a lookup has no index, scan, build or block (see ``indexes``).
    After a build the plans are made again, so they see (and hint for) the new index."""
    snap = snapshot(conn)
    plans = {root.name: plan for root in fam.roots if (plan := plan_root(root, snap, policy, ledger))}
    lookups = [lk for plan in plans.values() for lk in plan.lookups]
    prep = indexes.prepare(conn, lookups, policy, build=policy.build_missing_indexes and not policy.dry_run)
    if prep.built:
        snap = snapshot(conn)
        plans = {root.name: plan for root in fam.roots if (plan := plan_root(root, snap, policy, ledger))}
    return snap, plans, prep


def summarize(family: str, stages: list[state.Progress], notes: list[str], walks: dict, seconds: float, dry_run: bool) -> dict:
    tables: dict[str, dict] = {}
    for stage in stages:
        for table, counter in (stage.counters or {}).items():
            total = tables.setdefault(table, {"matched": 0, "deleted": 0, "archived": 0, "orphans": 0, "kept": {}})
            for key in ("matched", "deleted", "archived", "orphans"):
                total[key] += int(counter.get(key, 0))
            if "would_delete" in counter:
                total["would_delete"] = total.get("would_delete", 0) + int(counter["would_delete"])
            for reason, n in counter.get("kept", {}).items():
                total["kept"][reason] = total["kept"].get(reason, 0) + int(n)
    return {
        "family": family,
        "dry_run": dry_run,
        "tables": tables,
        "batches": sum(s.batches for s in stages),
        "seconds": round(sum(s.seconds for s in stages), 3),
        "wall_seconds": round(seconds, 3),
        "walks": walks,
        "notes": notes,
    }
