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
import math
import time
import uuid
from collections.abc import Callable, Generator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg import errors as pg_errors

from dify_maintenance.core import catalog, state
from dify_maintenance.core.catalog import Edge, Family, Path, Root
from dify_maintenance.core.db import Connector, connection, execute, fetch_one
from dify_maintenance.core.errors import LockContention, MaintenanceError
from dify_maintenance.core.policy import MAX_BATCH, Policy
from dify_maintenance.core.schema import SchemaSnapshot, snapshot
from dify_maintenance.core.sqltemplates import render
from dify_maintenance.retention import health, indexes
from dify_maintenance.retention.archive import ArchiveWriter, TablePart, copy_out
from dify_maintenance.retention.batching import BatchSizer
from dify_maintenance.retention.indexes import Lookup

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 5.0
# Rows per heap block assumed for a table never analyzed (Dify's log rows are a few hundred bytes).
DEFAULT_ROWS_PER_BLOCK = 10.0


@dataclass(frozen=True)
class RunContext:
    """What every task of one run shares; fixed at preflight and read back on retries."""

    run_key: str
    cutoffs: dict[str, datetime]
    dify_version: str
    archive_prefix: str
    families: tuple[str, ...] = ()


@dataclass
class Step:
    """One edge of a path, reduced to what exists in this database."""

    table: str
    parent_column: str
    parent_key: str
    match: list[tuple[str, str]]
    match_values: list[tuple[str, str]]


@dataclass
class PathPlan:
    table: str
    steps: list[Step]
    recency_column: str | None

    def render_steps(self) -> list[dict]:
        return [step.__dict__ for step in self.steps]


@dataclass
class KeepRule:
    """One reason to keep a candidate; ``sql`` is what the keep_condition macro renders."""

    reason: str
    sql: dict


@dataclass
class RootPlan:
    """How one root is walked on this database, and what it drags along."""

    root: Root
    walk: str
    walk_reason: str
    carry: list[str]
    paths: list[PathPlan]
    keep_rules: list[KeepRule]
    template: dict
    params: dict
    notes: list[str]
    lookups: list[Lookup] = field(default_factory=list)
    # dry runs: the primary key of each table whose would-be-deleted rows go into the ledger
    ledger_keys: dict[str, str] = field(default_factory=dict)

    @property
    def cand(self) -> str:
        return f"_dm_cand_{self.root.name}"


def _filters(policy: Policy) -> tuple[dict, dict]:
    names = ("tenant_ids", "exclude_tenant_ids", "app_ids", "exclude_app_ids")
    flags = {n: bool(getattr(policy, n)) for n in names}
    params = {n: [uuid.UUID(v) for v in getattr(policy, n)] for n in names if getattr(policy, n)}
    return flags, params


def _path_plan(path: Path, snap: SchemaSnapshot, params: dict, notes: list[str]) -> PathPlan | None:
    """Reduce a declared path to this schema; None when a table or reference column is missing."""
    steps: list[Step] = []
    parent = path.root.table
    for depth, edge in enumerate(path.edges, start=1):
        if not snap.has_table(edge.table):
            notes.append(f"{edge.table}: not in this Dify version, skipped")
            return None
        if not snap.has_column(edge.table, edge.parent_column):
            notes.append(f"{edge.table}.{edge.parent_column}: missing, {edge.table} skipped")
            return None
        # The hints exist for composite indexes that hold the reference column last; where an
        # index leads with the reference column they only tempt the planner into a worse index.
        direct = snap.index_leading(edge.table, [edge.parent_column]) is not None
        match = [] if direct else [(c, p) for c, p in edge.match if snap.has_column(edge.table, c) and snap.has_column(parent, p)]
        values = []
        for col, vals in () if direct else edge.match_values:
            if snap.has_column(edge.table, col):
                name = f"mv{depth}_{col}"
                params[name] = list(vals)
                values.append((col, name))
        steps.append(Step(edge.table, edge.parent_column, edge.parent_key, match, values))
        parent = edge.table
    last: Edge = path.edges[-1]
    recency = last.recency_column if last.recency_column and snap.has_column(last.table, last.recency_column) else None
    return PathPlan(path.table, steps, recency)


def plan_root(root: Root, snap: SchemaSnapshot, policy: Policy, ledger: frozenset[str] = frozenset()) -> RootPlan | None:
    """Decide the walk and the statements for ``root`` from the live schema.

    ``ledger`` (dry runs) names the tables whose would-be-deleted rows are noted in the run's
    ledger and ignored by reference keep rules, so a dry run counts what the real run deletes."""
    notes: list[str] = []
    if not snap.has_table(root.table):
        return None
    needed = [root.key, *root.recency_columns, *root.only_null]
    missing = [c for c in needed if not snap.has_column(root.table, c)]
    if missing:
        raise MaintenanceError(f"{root.table} lacks {', '.join(missing)}: this schema is not one the purge understands")
    flag_names, params = _filters(policy)
    scope_columns = [c for c in root.scope_columns if snap.has_column(root.table, c)]
    if (policy.app_ids or policy.exclude_app_ids or policy.tenant_ids or policy.exclude_tenant_ids) and not scope_columns:
        raise MaintenanceError(f"{root.table} has no tenant or app column to apply the tenant/app filters to")

    paths = [p for p in (_path_plan(path, snap, params, notes) for path in catalog.descendants(root, policy.keep_curated)) if p]

    keyset_column = root.recency_columns[0]
    walk, reason = choose_walk(root, snap)

    carry: list[str] = [root.key]
    for col in [*root.recency_columns, *root.only_null, *scope_columns]:
        if col not in carry:
            carry.append(col)
    if root.status_column and snap.has_column(root.table, root.status_column):
        carry.append(root.status_column)
    for path in paths:
        for _child, parent_col in path.steps[0].match:
            if parent_col not in carry:
                carry.append(parent_col)

    blank = {
        "key": root.key,
        "status_column": None,
        "ref_table": None,
        "ref_column": None,
        "role_column": None,
        "ledger_key": None,
    }
    ledger_keys = {table: keys[0] for table in ledger if snap.has_table(table) and len(keys := snap.primary_key(table)) == 1}
    rules: list[KeepRule] = []
    if root.status_column and root.status_column in carry:
        params["statuses"] = list(root.purgeable_statuses)
        rules.append(KeepRule("in flight (status not ended)", {**blank, "kind": "status", "status_column": root.status_column}))
    for ref in root.references:
        if not (snap.has_table(ref.table) and snap.has_column(ref.table, ref.column)):
            continue
        if ref.curated and not policy.keep_curated:
            continue
        role = ref.role_column if ref.role_column and snap.has_column(ref.table, ref.role_column) else None
        role_param = f"role_{len(rules)}"
        if role:
            params[role_param] = ref.role_value
        ledger_param = f"ledger_{len(rules)}"
        if ref.table in ledger_keys:
            params[ledger_param] = ref.table
        rules.append(
            KeepRule(
                ref.reason,
                {
                    **blank,
                    "kind": "reference",
                    "ref_table": ref.table,
                    "ref_column": ref.column,
                    "role_column": role,
                    "role_param": role_param,
                    "ledger_key": ledger_keys.get(ref.table),
                    "ledger_param": ledger_param,
                },
            )
        )
    if policy.keep_curated:
        for cpath in catalog.curated_paths(root):
            plan = _path_plan(cpath, snap, params, [])
            if plan:
                rules.append(
                    KeepRule(
                        f"has curated {plan.table}",
                        {**blank, "kind": "descendant", "path": plan.render_steps(), "newer_column": None},
                    )
                )
    for path in paths:
        if path.recency_column:
            rules.append(
                KeepRule(
                    f"has {path.table} newer than the cutoff",
                    {**blank, "kind": "descendant", "path": path.render_steps(), "newer_column": path.recency_column},
                )
            )
    template = {
        "table": root.table,
        "key": root.key,
        "carry": carry,
        "recency": list(root.recency_columns),
        "only_null": list(root.only_null),
        "scope_columns": scope_columns,
        "filters": flag_names,
        "keyset_column": keyset_column,
        "walk": walk,
    }
    noted = {t: k for t, k in ledger_keys.items() if t == root.table or any(p.table == t for p in paths)}
    return RootPlan(root, walk, reason, carry, paths, rules, template, params, notes, _lookups(root, paths, rules, snap), noted)


def choose_walk(root: Root, snap: SchemaSnapshot) -> tuple[str, str]:
    """How to find the expired rows of ``root``, from the indexes and server this database has."""
    keyset_column = root.recency_columns[0]
    index = snap.index_leading(root.table, [keyset_column, root.key]) or snap.index_leading(root.table, [keyset_column])
    if index:
        return "keyset", f"index {index.name} on ({', '.join(c or '?' for c in index.columns)}): batches visit only expired rows"
    if snap.has_tid_range_scans:
        return "ctid", f"no index leads with {keyset_column}; one forward pass over heap blocks by TID ranges"
    return "pk", f"no index leads with {keyset_column} and no TID range scans before PostgreSQL 14; one primary-key pass"


def _lookups(root: Root, paths: list[PathPlan], rules: list[KeepRule], snap: SchemaSnapshot) -> list[Lookup]:
    """Every per-batch equality lookup and the index that serves it (child rows by parent id,
    and keep rules asking whether another table still names the candidate)."""
    out = []
    for path in paths:
        step = path.steps[-1]
        also = {*(c for c, _ in step.match), *(c for c, _ in step.match_values)}
        out.append(indexes.find_lookup(snap, step.table, step.parent_column, also, f"{path.table} rows of a purged {root.table}"))
    for rule in rules:
        if rule.sql["kind"] == "reference":
            also = {rule.sql["role_column"]} if rule.sql["role_column"] else set()
            out.append(
                indexes.find_lookup(snap, rule.sql["ref_table"], rule.sql["ref_column"], also, f"keep rule '{rule.reason}'")
            )
    return out


@dataclass(frozen=True)
class HeapExtent:
    """A ctid walk's range (blocks when the walk began) and the rows a block holds on average."""

    blocks: int
    rows_per_block: float

    def blocks_for(self, rows: int) -> int:
        return max(1, math.ceil(rows / (self.rows_per_block or DEFAULT_ROWS_PER_BLOCK)))


def heap_extent(conn: psycopg.Connection, table: str) -> HeapExtent:
    row = fetch_one(conn, "purge/heap_extent.sql", {"table": table})
    return HeapExtent(int(row["blocks"]), float(row["rows_per_block"])) if row else HeapExtent(0, 0.0)


@dataclass
class OrphanPlan:
    stage: str
    table: str
    keys: list[str]
    parent_table: str
    parent_column: str
    parent_key: str
    recency: str
    null_is_orphan: bool

    @property
    def cand(self) -> str:
        return f"_dm_orph_{self.table}"


def plan_orphans(fam: Family, snap: SchemaSnapshot, policy: Policy) -> list[OrphanPlan]:
    """Every edge of the family whose child may have outlived its parent, shallow edges first."""
    seen: dict[tuple[str, str], tuple[int, OrphanPlan]] = {}
    for root in fam.roots:
        for path in catalog.descendants(root, policy.keep_curated):
            edge = path.edges[-1]
            parent_table = path.parent_table
            if not (snap.has_table(edge.table) and snap.has_table(parent_table)):
                continue
            recency = edge.recency_column
            keys = list(snap.primary_key(edge.table))
            if not recency or not snap.has_column(edge.table, recency) or not keys:
                continue
            if not snap.has_column(edge.table, edge.parent_column):
                continue
            plan = OrphanPlan(
                stage=f"orphans:{edge.table}.{edge.parent_column}",
                table=edge.table,
                keys=keys,
                parent_table=parent_table,
                parent_column=edge.parent_column,
                parent_key=edge.parent_key,
                recency=recency,
                null_is_orphan=edge.null_is_orphan,
            )
            seen.setdefault((edge.table, edge.parent_column), (len(path.edges), plan))
    return [plan for _depth, plan in sorted(seen.values(), key=lambda item: item[0])]


class _Reporter:
    """Progress lines in the task log every few seconds: rows done, rate, rows or blocks left, ETA."""

    def __init__(self, family: str) -> None:
        self.family = family
        self.started = time.monotonic()
        self.last = 0.0
        self.stage_started = self.started
        self.table = ""
        self.expected: int | None = None
        self.matched_at_begin = 0

    def begin(self, progress: state.Progress, table: str, expected: int | None) -> None:
        """A new stage; ``expected`` is the planner's estimate of the root rows still to walk."""
        self.stage_started = time.monotonic()
        self.table = table
        self.expected = expected
        self.matched_at_begin = int(progress.counter(table)["matched"])

    def maybe(self, stage: str, progress: state.Progress, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < PROGRESS_EVERY_SECONDS:
            return
        self.last = now
        deleted = sum(c.get("deleted", 0) for c in (progress.counters or {}).values())
        elapsed = max(now - self.started, 1e-6)
        log.info(
            "%s/%s: %d batches, %d rows deleted, %.0f rows/s; %s",
            self.family,
            stage,
            progress.batches,
            deleted,
            deleted / elapsed,
            "done" if progress.done else self._left(progress, max(now - self.stage_started, 1e-6)),
        )

    def _left(self, progress: state.Progress, stage_elapsed: float) -> str:
        cursor = progress.cursor or {}
        if "end" in cursor:  # ctid walk: the block position is exact
            fraction = cursor["block"] / cursor["end"] if cursor["end"] else 1.0
            eta = stage_elapsed * (1 - fraction) / fraction if fraction else None
            return f"block {cursor['block']} of {cursor['end']} ({fraction:.0%}), {_eta(eta)}"
        if self.expected is None:
            return f"cursor {cursor or 'start'}"
        walked = int(progress.counter(self.table)["matched"]) - self.matched_at_begin
        left = max(self.expected - walked, 0)
        eta = left / (walked / stage_elapsed) if walked else None
        return f"~{left} {self.table} rows left (planner estimate), {_eta(eta)}"


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "time left unknown yet"
    return f"about {seconds / 60:.1f} min left" if seconds >= 90 else f"about {seconds:.0f}s left"


def estimate_expired(conn: psycopg.Connection, plan: RootPlan, cutoff: datetime) -> int:
    """The planner's estimate of expired root rows: free, unlike a count over a 100 GB table."""
    tmpl = plan.template
    row = fetch_one(
        conn,
        "plan/expired_estimate.sql",
        {**plan.params, "cutoff": cutoff},
        table=tmpl["table"],
        recency=tmpl["recency"],
        only_null=tmpl["only_null"],
        scope_columns=tmpl["scope_columns"],
        filters=tmpl["filters"],
    )
    return int(row["QUERY PLAN"][0]["Plan"]["Plan Rows"]) if row else 0


def _session(conn: psycopg.Connection, policy: Policy) -> None:
    fetch_one(
        conn,
        "purge/session.sql",
        {"statement_timeout": f"{policy.statement_timeout_ms}ms", "lock_timeout": f"{policy.lock_timeout_ms}ms"},
    )


@contextmanager
def _batch_transaction(conn: psycopg.Connection, policy: Policy, ctx: RunContext) -> Generator[None]:
    """One batch = one short transaction with local timeouts; a real one first proves it still
    holds the maintenance claim. A dry run writes nothing of Dify's (its statements only count),
    only its ledger in our schema, and commits that."""
    with conn.transaction():
        _session(conn, policy)
        if not policy.dry_run:
            state.heartbeat(conn, ctx.run_key)
        yield


def _delete_mode(policy: Policy) -> str:
    if policy.dry_run:
        return "count"
    return "copy" if policy.archive else "delete"


def _run_step(
    conn: psycopg.Connection, template: str, mode: str, params: dict, table: str, columns: list[str], **ctx: object
) -> tuple[int, TablePart | None]:
    query = render(template, mode=mode, table=table, **ctx)
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


def _root_batch(
    conn: psycopg.Connection,
    plan: RootPlan,
    stage: state.Progress,
    ctx: RunContext,
    policy: Policy,
    family: str,
    writer: ArchiveWriter | None,
    snap: SchemaSnapshot,
    limit: int,
    extent: HeapExtent | None = None,
) -> state.Progress:
    cutoff = ctx.cutoffs[family]
    tmpl = plan.template
    params = {**plan.params, "cutoff": cutoff, "limit": limit, "run_key": ctx.run_key}
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
    with _batch_transaction(conn, policy, ctx):
        window = fetch_one(conn, "purge/select_window.sql", params, cand=plan.cand, has_cursor=has_cursor, **tmpl)
        assert window is not None
        root_counter = new.counter(plan.root.table)
        root_counter["matched"] += int(window["matched"])
        execute(conn, "purge/analyze_candidates.sql", cand=plan.cand)
        for rule in plan.keep_rules:
            row = fetch_one(conn, "purge/keep.sql", params, cand=plan.cand, rule=rule.sql)
            kept = int(row["kept"]) if row else 0
            if kept:
                root_counter["kept"][rule.reason] = root_counter["kept"].get(rule.reason, 0) + kept
        upload = writer.begin_batch(family, plan.root.name, stage.batches + 1) if writer else None
        for path in plan.paths:
            n, part = _run_step(
                conn,
                "purge/delete_path.sql",
                mode,
                {**params, "ledger_table": path.table},
                path.table,
                list(snap.columns[path.table]),
                cand=plan.cand,
                path=path.render_steps(),
                key=plan.root.key,
                ledger_key=plan.ledger_keys.get(path.table),
            )
            _count(new, path.table, n, part, policy.dry_run, is_root=False)
            if upload is not None:
                upload.add(part)
        n, part = _run_step(
            conn,
            "purge/delete_path.sql",
            mode,
            {**params, "ledger_table": plan.root.table},
            plan.root.table,
            list(snap.columns[plan.root.table]),
            cand=plan.cand,
            path=[],
            key=plan.root.key,
            ledger_key=plan.ledger_keys.get(plan.root.table),
        )
        _count(new, plan.root.table, n, part, policy.dry_run, is_root=True)
        if upload is not None:
            upload.add(part)
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
            state.save_progress(conn, ctx.run_key, new)
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
    ctx: RunContext,
    policy: Policy,
    family: str,
    writer: ArchiveWriter | None,
    snap: SchemaSnapshot,
    ledger: frozenset[str] = frozenset(),
) -> state.Progress:
    window_size = max(policy.batch_size * 10, 1000)
    params: dict = {"cutoff": ctx.cutoffs[family], "limit": window_size, "run_key": ctx.run_key, "ledger_table": plan.table}
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
            plan.table,
            list(snap.columns[plan.table]),
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
            state.save_progress(conn, ctx.run_key, new)
    return new


def purge_family(
    connector: Connector,
    ctx: RunContext,
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
    reporter = _Reporter(fam.name)
    gate = health.Gate(policy)
    sizes: dict[str, list[int]] = {}
    deferred: str | None = None
    notes: list[str] = []
    walks: dict[str, str] = {}
    stages: list[state.Progress] = []
    started = time.monotonic()
    with connection(connector) as conn:
        ledger = catalog.ledger_tables(ctx.families or (fam.name,), policy.keep_curated) if policy.dry_run else frozenset()
        snap, plans, prep = _prepare_family(conn, fam, policy, ledger)
        notes.extend(prep.notes)
        if prep.blocked:
            deferred = "blocked by a missing index: " + "; ".join(prep.blocked)
        progress = {} if policy.dry_run else state.load_progress(conn, ctx.run_key, fam.name)
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
            if not stage.done:
                reporter.begin(stage, root.table, None if extent else estimate_expired(conn, plan, ctx.cutoffs[fam.name]))
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
                    lambda current=current, plan=plan, limit=sizer.size, extent=extent: _root_batch(
                        conn, plan, current, ctx, policy, fam.name, writer, snap, limit, extent
                    ),
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
