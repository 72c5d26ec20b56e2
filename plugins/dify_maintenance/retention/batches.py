"""The batched purge: walk a family's roots in short transactions.

Every batch is one transaction of four statements: (1) its session settings and the claim, (2)
one statement that selects a window of root rows, leaves out those a keep rule protects, locates
every descendant once and deletes them and the roots (streaming each deleted row into the
archive when archiving; ``chain``), (3) the re-check in a new snapshot of what a live Dify wrote
meanwhile, (4) the walk's cursor and counters in ``dify_maintenance.progress``. All of it commits
together, so a killed worker resumes on retry exactly where the last commit left it. Right after
the commit the re-check runs once more and puts back, from the batch's archive, any parent a write
named in the instant before the commit.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable, Generator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import orjson
import psycopg
from psycopg import errors as pg_errors

from dify_maintenance.core import catalog, state
from dify_maintenance.core.backoff import lock_timeout, with_backoff
from dify_maintenance.core.catalog import Family
from dify_maintenance.core.db import Connector, connection, execute, fetch_all, fetch_one
from dify_maintenance.core.errors import LockContention, MaintenanceError
from dify_maintenance.core.policy import MAX_BATCH, MIN_BATCH, Policy
from dify_maintenance.core.schema import SchemaSnapshot, snapshot
from dify_maintenance.core.sqltemplates import render
from dify_maintenance.retention import chain as chains
from dify_maintenance.retention import health, indexes
from dify_maintenance.retention.batch_sizer import BatchSizer
from dify_maintenance.retention.chain import Chain, Outcome
from dify_maintenance.retention.plan import (
    HeapExtent,
    OrphanPlan,
    RootPlan,
    cutoff,
    heap_extent,
    plan_orphans,
    plan_root,
    scope_filters,
)
from dify_maintenance.retention.progress import Reporter, estimate_expired
from dify_maintenance.retention.proof import RowProof
from dify_maintenance.retention.restore import restore_rows
from dify_maintenance.storage.archive import ArchiveWriter, BatchUpload, TablePart, copy_out

log = logging.getLogger(__name__)

MB = 1024 * 1024


# Batches up to this many roots are held to index plans (see purge/session.sql); a bigger one
# (the benchmark's one-shot bound) leaves the join methods to the planner.
INDEX_PLANS_MAX_BATCH = 10_000


def _session(conn: psycopg.Connection, policy: Policy, index_plans: bool, run_key: str | None) -> None:
    """The batch's settings and, for a real run, proof that it still holds the claim, in one
    round trip (the heartbeat write, every ``state.HEARTBEAT_EVERY_SECONDS``, is its own)."""
    row = fetch_one(
        conn,
        "purge/session.sql",
        {
            "statement_timeout": f"{policy.statement_timeout_ms}ms",
            "lock_timeout": f"{policy.lock_timeout_ms}ms",
            "hash_joins": "off" if index_plans else "on",
            "lock_name": state.LOCK_NAME,
            "run_key": run_key,
        },
        claim=run_key is not None,
    )
    if run_key is not None:
        state.check_in(conn, run_key, holds=bool(row["holds"]))


@contextmanager
def _batch_transaction(
    conn: psycopg.Connection, policy: Policy, ctx: dict, mode: DeleteMode, index_plans: bool = False
) -> Generator[None]:
    """One batch = one short transaction with local timeouts; a real one first proves it still
    holds the maintenance claim (a read; see ``state.check_in``). A dry run writes nothing of
    Dify's (its statements only count), only its ledger in our schema, and commits that."""
    with conn.transaction():
        _session(conn, policy, index_plans, ctx["run_key"] if mode.deletes else None)
        yield


@dataclass(frozen=True)
class DeleteMode:
    """What a batch's statement does with the rows it finds, decided once per batch and read
    everywhere instead of ``dry_run``: ``count`` (a dry run: counts, deletes nothing, records
    no progress), ``copy`` (deletes and streams the rows out, to the archive and to a check at
    the moment of deleting), ``delete`` (deletes, nothing streamed)."""

    name: str

    @property
    def deletes(self) -> bool:
        return self.name != "count"

    @property
    def streams(self) -> bool:
        return self.name == "copy"


def _delete_mode(policy: Policy, proof: RowProof | None = None) -> DeleteMode:
    if policy.dry_run:
        return DeleteMode("count")
    # a check at the moment of deleting needs the deleted rows, archived or not
    return DeleteMode("copy" if policy.archive or proof is not None else "delete")


def _run_step(
    conn: psycopg.Connection, template: str, mode: DeleteMode, params: dict, columns: list[str], **ctx: object
) -> tuple[int, TablePart | None]:
    table = str(ctx["table"])
    query = render(template, mode=mode.name, **ctx)
    with conn.cursor() as cur:
        if not mode.deletes:
            cur.execute(query, params)
            row = cur.fetchone()
            return int(row["n"]), None
        if not mode.streams:
            cur.execute(query, params)
            return cur.rowcount, None
        part = copy_out(cur, query, params, table, columns)
        return part.rows, part


def _with_lock_retries(policy: Policy, what: str, attempt_batch) -> object:
    """Run one batch; a lock timeout rolls it back, waits longer each time and tries again."""
    return with_backoff(
        attempt_batch,
        what=what,
        retries=policy.lock_retries,
        retryable=lock_timeout,
        first_pause=0.2,
        give_up=lambda _exc, tries: LockContention(
            f"{what}: gave up after {tries} lock timeouts of {policy.lock_timeout_ms} ms; "
            "a live transaction holds the rows. Nothing of this batch was deleted; rerun later."
        ),
    )


# A batch is redone at most this often (each redo leaves out at least one more root, so this only
# bounds a pathological writer that touches a new root of the same batch every time).
MAX_REDOS = 20
# The check after commits runs this often over the batches committed since (and when a walk ends):
# a write that slipped in just before a commit is repaired within seconds.
CHECK_AFTER_COMMIT_SECONDS = 2.0
CONCURRENT_WRITE = "written to while its batch ran (left for the next run)"


class _ConcurrentWrite(Exception):
    """The batch's re-check found roots a concurrent write touched: roll back, redo without them."""

    def __init__(self, keys: list[str], unproven: bool = False) -> None:
        super().__init__(f"{len(keys)} roots {'not proved' if unproven else 'written to during the batch'}")
        self.keys = keys
        self.unproven = unproven


@dataclass(frozen=True)
class _RootWalk:
    """What stays the same for every batch of one root's walk."""

    conn: psycopg.Connection
    plan: RootPlan
    chain: Chain
    ctx: dict
    policy: Policy
    family: str
    writer: ArchiveWriter | None
    snap: SchemaSnapshot
    extent: HeapExtent | None = None
    proof: RowProof | None = None
    stats: dict = field(
        default_factory=lambda: {"statements": 0, "repaired": 0, "dangling": [], "pending": [], "checked_at": time.monotonic()}
    )


def _root_batch(walk: _RootWalk, stage: state.Progress, limit: int) -> state.Progress:
    """One batch, redone without the roots that a live Dify wrote under while it ran (a new child,
    a moved ``updated_at``): those stay, whole, until a later run finds them expired again."""
    excluded: list[str] = []
    unproven: list[str] = []
    name = f"{walk.family}/{walk.plan.root.name}"
    halvings = 0
    for attempt in range(MAX_REDOS + 1):
        # from the second redo on, half the size each time: a batch that a busy writer keeps
        # touching gets short enough to finish between two of its writes
        size = max(MIN_BATCH, limit >> (max(0, attempt - 1) + halvings))
        try:
            return _root_batch_once(walk, stage, size, excluded, unproven)
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
            if redo.unproven:
                unproven.extend(fresh)
            log.info("%s: %s; redoing the batch without them", name, redo)
    raise LockContention(
        f"{name}: a live writer touched the batch's rows {MAX_REDOS} times in a row; "
        "nothing of this batch was deleted; rerun later"
    )


# A deleted row longer than this goes out of the batch statement in pieces of this many characters.
ROW_PIECE = 1 << 20


def _stream_batch(
    conn: psycopg.Connection,
    query,
    params: dict,
    upload: BatchUpload | None,
    chain: Chain,
    snap: SchemaSnapshot,
    proof: RowProof | None = None,
) -> tuple[dict, dict[str, int]]:
    """Run the batch statement in copy mode: every deleted row into its table's archive part as it
    arrives (a big row piece by piece, so about one piece is in memory), and to the proof the
    rows of its tables (one row at a time), the summary from the last line. Returns the summary
    and the rows archived per table (and ``_bytes``, all of them)."""
    summary: dict | None = None
    archived: dict[str, int] = {"_bytes": 0}
    pending = b""
    proved = proof.tables() if proof is not None else frozenset()
    pieces: list[str] = []

    def take(line: memoryview | bytes) -> None:
        nonlocal summary
        head = bytes(line[:24])
        tab = head.index(b"\t")
        tag, last = int(head[:tab]), head[tab + 1 : tab + 2] == b"t"
        rest = line[tab + 3 :]  # "<tag>\t<t|f>\t<piece>\n"
        if tag < 0:
            summary = json.loads(chains.copy_text_value(bytes(rest)))
            return
        table = chain.table_of(tag)
        if upload is not None:
            stream = upload.stream(table, list(snap.columns[table]))
            if last:
                stream.write(rest, rows=1)
                archived[table] = archived.get(table, 0) + 1
            else:
                stream.write(rest[:-1], rows=0)  # a piece of a longer row: without the line's newline
        if proof is not None and table in proved:
            pieces.append(chains.copy_text_value(bytes(rest)))
            if last:
                values = orjson.loads("".join(pieces))
                pieces.clear()
                proof.row(table, values, chain.root_of(tag, values))

    with conn.cursor() as cur, cur.copy(query, {**params, "piece": ROW_PIECE}) as copy:
        for chunk in copy:
            archived["_bytes"] += len(chunk)
            view = memoryview(chunk)
            # a COPY data message is one line, ending in its newline (COPY escapes newlines in
            # values): taken as it is
            if not pending and len(view) and view[-1] == 0x0A:
                take(view)
                continue
            data = pending + bytes(view)
            *lines, pending = data.split(b"\n")
            for line in lines:
                take(line + b"\n")
    if summary is None:
        raise MaintenanceError("the batch statement ended without its summary line")
    return summary, archived


def _root_batch_once(
    walk: _RootWalk, stage: state.Progress, limit: int, excluded: list[str], unproven: list[str]
) -> state.Progress:
    conn, plan, chain, ctx, policy, family = walk.conn, walk.plan, walk.chain, walk.ctx, walk.policy, walk.family
    writer, snap, extent = walk.writer, walk.snap, walk.extent
    params = {
        **plan.params,
        **chain.ledger_params,
        "cutoff": cutoff(ctx, family),
        "limit": limit,
        "run_key": ctx["run_key"],
        "excluded": excluded,
    }
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
    mode = _delete_mode(policy, walk.proof)
    started = time.monotonic()
    new = copy.deepcopy(stage)
    upload = None
    statements = 0
    try:
        # a lookup without an index (a small table, under unindexed_lookup_max_mb) is hashed
        index_plans = limit <= INDEX_PLANS_MAX_BATCH and not plan.unindexed
        with _batch_transaction(conn, policy, ctx, mode, index_plans):
            statements += 1
            context = chain.batch_context(mode.name, has_cursor, bool(excluded))
            archived: dict[str, int] = {}
            if mode.streams:
                upload = writer.begin_batch(family, plan.root.name, stage.batches + 1) if writer is not None else None
                if walk.proof is not None:
                    walk.proof.begin()
                query = render("purge/batch.sql", **context)
                summary, archived = _stream_batch(conn, query, params, upload, chain, snap, walk.proof)
            else:
                summary = fetch_one(conn, "purge/batch.sql", params, **context)["s"]
            statements += 1
            walk.stats["last_bytes"] = archived.pop("_bytes", 0)
            outcome = chains.read_summary(chain, summary)
            if walk.proof is not None and outcome.go:
                # before anything else sees the batch: each deleted row's document, as it is now
                refused = walk.proof.unproven(conn)
                if refused:
                    raise _ConcurrentWrite(sorted(refused), unproven=True)
            if mode.deletes and outcome.go:
                found = _recheck(conn, plan, chain, outcome)
                statements += 1
                offenders = chains.offenders(outcome, found)
                if offenders:
                    raise _ConcurrentWrite(offenders)
            _count_batch(new, plan, outcome, archived, excluded, mode, unproven, walk.proof)
            new.batches += 1
            if blocks is not None:
                new.cursor = {"block": blocks[1], "end": blocks[2]}
                new.done = blocks[1] >= blocks[2]
            else:
                if outcome.last is None or outcome.scanned < limit:
                    new.done = True
                if outcome.last is not None:
                    new.cursor = {"key": outcome.last[1]}
                    if plan.walk == "keyset":
                        new.cursor["ts"] = datetime.fromisoformat(outcome.last[0]).isoformat()
            new.seconds += time.monotonic() - started
            if upload is not None:
                upload.finish()
            if mode.deletes:
                state.save_progress(conn, ctx["run_key"], new, deleted=chains.named_keys(chain, outcome))
                statements += 1
    except BaseException:
        if upload is not None:
            upload.abandon()
        raise
    if mode.deletes and outcome.deleted_roots:
        walk.stats["pending"].append(outcome)
        if time.monotonic() - walk.stats["checked_at"] >= CHECK_AFTER_COMMIT_SECONDS:
            statements += 1
            check_after_commits(walk, new)
    walk.stats["statements"] = max(walk.stats["statements"], statements)
    return new


def _recheck(conn: psycopg.Connection, plan: RootPlan, chain: Chain, outcome: Outcome) -> list[dict]:
    """What a live Dify names now among what the batch deleted (a new snapshot)."""
    return fetch_all(
        conn, "purge/recheck.sql", {**plan.params, **chains.recheck_params(chain, outcome)}, **chain.recheck_context()
    )


def check_after_commits(walk: _RootWalk, progress: state.Progress) -> None:
    """After commits: a write that landed in the instant between a batch's re-check and its commit
    named a row the batch deleted. Put that row and the rows above it back from the batches'
    archive, or (archive off) name it for the report and verify. Runs every
    ``CHECK_AFTER_COMMIT_SECONDS`` over the batches committed since, and when the walk ends."""
    conn, chain = walk.conn, walk.chain
    pending, walk.stats["pending"] = walk.stats["pending"], []
    walk.stats["checked_at"] = time.monotonic()
    if not pending:
        return
    outcome = chains.merge(pending)
    with conn.transaction():
        found = _recheck(conn, walk.plan, chain, outcome)
    if not found:
        return
    counter = progress.counter(walk.plan.root.table)
    if walk.writer is None:
        for row in found:
            key_row = outcome.keys[row["lv"]][int(row["i"]) - 1]
            walk.stats["dangling"].append(f"{chain.table_of(row['lv'])} named by a write after the batch: root {key_row[0]}")
        counter["dangling"] = counter.get("dangling", 0) + len(found)
        return
    prefix = walk.writer.stage_prefix(walk.family, walk.plan.root.name)[len(walk.writer.store.prefix) :]
    back = 0
    for table, column, value in chains.rows_to_restore(chain, outcome, found):
        back += len(restore_rows(conn, walk.writer.store, prefix, table, column, [value]))
    counter["restored"] = counter.get("restored", 0) + back
    walk.stats["repaired"] += back
    log.warning(
        "%s: put %d rows back from the archive: a live write named them right after their batch committed",
        chain.plan.root.name,
        back,
    )


def _count_batch(
    new: state.Progress,
    plan: RootPlan,
    outcome: Outcome,
    archived: dict[str, int],
    excluded: list[str],
    mode: DeleteMode,
    unproven: Sequence[str] = (),
    proof: RowProof | None = None,
) -> None:
    root_counter = new.counter(plan.root.table)
    root_counter["matched"] += outcome.matched + len(excluded)
    kept = {CONCURRENT_WRITE: len(excluded) - len(unproven)}
    if proof is not None:
        kept[proof.reason] = len(unproven)
    for reason, n in kept.items():
        if n:
            root_counter["kept"][reason] = root_counter["kept"].get(reason, 0) + n
    for reason, n in outcome.kept.items():
        root_counter["kept"][reason] = root_counter["kept"].get(reason, 0) + n
    for table, n in outcome.deleted.items():
        counter = new.counter(table)
        if not mode.deletes:
            counter["would_delete"] = counter.get("would_delete", 0) + n
            continue
        counter["deleted"] += n
        if table != plan.root.table:
            counter["matched"] += n
        counter["archived"] += archived.get(table, 0)


def _count(progress: state.Progress, table: str, n: int, part: TablePart | None, mode: DeleteMode, is_root: bool) -> None:
    """Add one statement's rows to the table's counters (a dry run only says what it would do)."""
    counter = progress.counter(table)
    if not mode.deletes:
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
    flags, scope = scope_filters(policy)
    params: dict = {
        **scope,
        "cutoff": cutoff(ctx, family),
        "limit": window_size,
        "run_key": ctx["run_key"],
        "ledger_table": plan.table,
    }
    cursor = stage.cursor or {}
    phase = cursor.get("phase") or ("parents" if plan.walk == "parent" else "all")
    has_cursor = bool(cursor.get("keys"))
    for i, value in enumerate(cursor.get("keys") or []):
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
        "walk": plan.walk,
        "phase": phase,
        "scope_columns": plan.scope_columns,
        "filters": flags,
    }
    mode = _delete_mode(policy)
    started = time.monotonic()
    new = copy.deepcopy(stage)
    with _batch_transaction(conn, policy, ctx, mode):
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
        if window["out_of_scope"]:
            counter["orphans_out_of_scope"] = counter.get("orphans_out_of_scope", 0) + int(window["out_of_scope"])
        _count(new, plan.table, n, part, mode, is_root=False)
        new.batches += 1
        last = [window[f"last_{i}"] for i in range(1 if phase == "parents" else len(plan.keys))]
        if window["last_0"] is None or int(window["scanned"]) < window_size:
            # this phase is through; the rows without a parent come next where that means garbage
            more = phase == "parents" and plan.null_is_orphan
            new.cursor = {"phase": "nulls", "keys": None} if more else {"phase": phase, "keys": last}
            new.done = not more
        else:
            new.cursor = {"phase": phase, "keys": last}
        new.seconds += time.monotonic() - started
        if writer:
            upload = writer.begin_batch(family, plan.stage, new.batches)
            upload.add(part)
            upload.finish()
        if mode.deletes:
            state.save_progress(conn, ctx["run_key"], new)
    return new


def purge_family(
    connector: Connector,
    ctx: dict,
    fam: Family,
    policy: Policy,
    writer: ArchiveWriter | None,
    stop: Callable[[], str | None] | None = None,
    proof: RowProof | None = None,
) -> dict:
    """Purge one family to completion (or resume it); returns its counters and notes.

    Before every batch ``stop`` (operator stop switch, time budget) is asked and the health gate
    waits out red signals; a reason from either ends the purge after the last committed batch and
    the family is reported as deferred, never as done. Batch size adapts per root. With a
    ``proof``, every root batch is checked by it before its commit, and the orphan sweeps are
    left out (their rows are not walked from a root the proof can keep whole).
    """
    reporter = Reporter(fam.name)
    gate = health.Gate(policy)
    sizes: dict[str, list[int]] = {}
    deferred: str | None = None
    notes: list[str] = []
    walks: dict[str, str] = {}
    stages: list[state.Progress] = []
    walk_stats: list[dict] = []
    started = time.monotonic()
    with connection(connector) as conn:
        ledger = (
            catalog.ledger_tables(tuple(ctx["families"]) or (fam.name,), policy.keep_curated) if policy.dry_run else frozenset()
        )
        snap, plans, prep = _prepare_family(conn, fam, policy, ledger)
        notes.extend(prep.notes)
        if proof is not None:
            proof.prepare(snap)
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
            stage = progress.get(root.name) or state.Progress(fam.name, root.name)
            extent = heap_extent(conn, root.table) if plan.walk == "ctid" and not stage.done else None
            walk = _RootWalk(conn, plan, chains.build(plan, snap), ctx, policy, fam.name, writer, snap, extent, proof)
            walk_stats.append(walk.stats)
            if not stage.done:
                reporter.begin(stage, root.table, None if extent else estimate_expired(conn, plan, cutoff(ctx, fam.name)))
            # per root: rows differ; bytes bound a batch's archive stream, and so the worker's memory
            sizer = BatchSizer(
                policy.batch_size, policy.batch_target_seconds, max_size=MAX_BATCH, target_bytes=policy.batch_target_mb * MB
            )
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
                    sizes[root.name].append(sizer.record(time.monotonic() - batch_started, walk.stats.get("last_bytes", 0)))
                reporter.maybe(root.name, stage)
            if not policy.dry_run:
                check_after_commits(walk, stage)
            reporter.maybe(root.name, stage, force=True)
            stages.append(stage)
        sweeps = plan_orphans(fam, snap, policy, notes) if not deferred else []
        skipped_sweeps = False
        if proof is not None and sweeps:
            notes.append(
                "rows whose parent is already gone are not swept here: each row must be proved by its root "
                f"({', '.join(sorted({o.table for o in sweeps}))}; the weekly retention sweeps them)"
            )
            sweeps = []
            skipped_sweeps = True
        for oplan in sweeps:
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
    result["statements_per_batch"] = max((st["statements"] for st in walk_stats), default=0)
    result["repaired_after_commit"] = sum(st["repaired"] for st in walk_stats)
    result["dangling_after_commit"] = [row for st in walk_stats for row in st["dangling"]][:20]
    result["orphan_sweeps_skipped"] = skipped_sweeps
    if proof is not None:
        result["proof"] = {"reason": proof.reason, "checked": proof.checked, "not_proved": proof.examples[:20]}
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
            for key in ("orphans_out_of_scope", "restored", "dangling"):  # only where there were any
                if counter.get(key):
                    total[key] = total.get(key, 0) + int(counter[key])
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
