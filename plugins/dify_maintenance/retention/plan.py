"""How each root table of a family is purged on this database: the walk (keyset, ctid or
primary key), the descendant paths reduced to the tables and columns that exist, the keep
rules, the lookups and their indexes, and the orphan sweeps. Pure planning: no row is read.
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from dify_maintenance.core import catalog
from dify_maintenance.core.catalog import Edge, Family, Path, Root
from dify_maintenance.core.db import fetch_one
from dify_maintenance.core.errors import MaintenanceError
from dify_maintenance.core.policy import Policy
from dify_maintenance.core.schema import SchemaSnapshot
from dify_maintenance.retention import indexes
from dify_maintenance.retention.indexes import Lookup

log = logging.getLogger(__name__)


def cutoff(ctx: dict, family: str) -> datetime:
    """The family's cutoff, fixed at preflight and stored with the run (naive UTC)."""
    return datetime.fromisoformat(ctx["cutoffs"][family])


# Rows per heap block assumed for a table never analyzed (Dify's log rows are a few hundred bytes).
DEFAULT_ROWS_PER_BLOCK = 10.0


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
    # (column, bind parameter of the statuses that may go) for a child that has a life of its own
    status: tuple[str, str] | None = None
    # the edges just below this table that the family also deletes: while one of them still has a
    # row for a row of this table (one newer than the cutoff, or written since), that row stays
    children: list[dict] = field(default_factory=list)
    # the parent names this row (a chatflow message's run), not the other way round
    reverse: bool = False

    def render_steps(self) -> list[dict]:
        return [step.__dict__ for step in self.steps]

    @property
    def chain(self) -> tuple[str, ...]:
        return tuple(step.table for step in self.steps)


def _link_children(paths: list[PathPlan]) -> list[dict]:
    """Give every path the edges directly below it; returns the root's own direct edges."""
    by_chain = {path.chain: path for path in paths}
    top: list[dict] = []
    for path in paths:
        step = path.steps[-1].__dict__
        parent = by_chain.get(path.chain[:-1]) if len(path.chain) > 1 else None
        (parent.children if parent else top).append(step)
    return top


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
    # the root's direct child edges, and the keep rules the root's DELETE re-checks on the live row
    children: list[dict] = field(default_factory=list)
    guard_rules: list[dict] = field(default_factory=list)
    # dry runs: the primary key of each table whose would-be-deleted rows go into the ledger
    ledger_keys: dict[str, str] = field(default_factory=dict)

    @property
    def unindexed(self) -> bool:
        """Does a lookup of this root's batch have no index? (Its statement then hashes.)"""
        return any(lk.index is None for lk in self.lookups)

    def scans(self, steps: list[dict] = (), rules: list[dict] = ()) -> bool:
        """Does a statement over these path steps and keep rules make a lookup no index serves?
        (It then needs the planner's hash joins; every other statement is held to index plans.)"""
        unindexed = {(lk.table, lk.column) for lk in self.lookups if lk.index is None}
        wanted = {(step["table"], step["parent_column"]) for step in steps}
        for rule in rules:
            if rule["kind"] in ("reference", "group"):
                wanted.add((rule["ref_table"], rule["ref_column"]))
            elif rule["kind"] == "descendant":
                wanted.update((step["table"], step["parent_column"]) for step in rule["path"])
        return bool(wanted & unindexed)


def scope_filters(policy: Policy) -> tuple[dict, dict]:
    """Which tenant/app filters the policy sets (template flags), and their bind parameters."""
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
    status = None
    if last.status_column and snap.has_column(last.table, last.status_column):
        status = (last.status_column, f"st{len(path.edges)}_{last.table}")
        params[status[1]] = list(last.purgeable_statuses)
    return PathPlan(path.table, steps, recency, status, reverse=not last.sweep_orphans)


def plan_root(root: Root, snap: SchemaSnapshot, policy: Policy, ledger: frozenset[str] = frozenset()) -> RootPlan | None:
    """Decide the walk and the statements for ``root`` from the live schema.

    ``ledger`` (dry runs) names the tables whose would-be-deleted rows are noted in the run's
    ledger and ignored by reference keep rules, so a dry run counts what the real run deletes."""
    if not snap.has_table(root.table):
        return None
    scope_columns = _checked_columns(root, snap, policy)
    flag_names, params = scope_filters(policy)
    notes: list[str] = []
    paths = [p for p in (_path_plan(path, snap, params, notes) for path in catalog.descendants(root, policy.keep_curated)) if p]
    walk, reason = choose_walk(root, snap)
    ledger_keys = {table: keys[0] for table in ledger if snap.has_table(table) and len(keys := snap.primary_key(table)) == 1}
    carry = _carried_columns(root, snap, policy, paths, scope_columns)
    rules = _keep_rules(root, snap, policy, paths, carry, params, ledger_keys)
    return RootPlan(
        root=root,
        walk=walk,
        walk_reason=reason,
        carry=carry,
        paths=paths,
        keep_rules=rules,
        template={
            "table": root.table,
            "key": root.key,
            "carry": carry,
            "recency": list(root.recency_columns),
            "only_null": list(root.only_null),
            "scope_columns": scope_columns,
            "filters": flag_names,
            "keyset_column": root.recency_columns[0],
            "walk": walk,
        },
        params=params,
        notes=notes,
        lookups=_lookups(root, paths, rules, snap),
        children=_link_children(paths),
        # "has a newer descendant" needs no re-check in the DELETE: a newer row is never deleted,
        # so its parent chain still has a row under the root, which the DELETE's child guard sees
        guard_rules=[r.sql for r in rules if r.sql["kind"] != "descendant" or not (r.sql["newer_column"] or r.sql["status"])],
        ledger_keys={t: k for t, k in ledger_keys.items() if t == root.table or any(p.table == t for p in paths)},
    )


def _checked_columns(root: Root, snap: SchemaSnapshot, policy: Policy) -> list[str]:
    """The root's scope columns present here, after refusing a schema without the columns the
    purge needs, or a tenant/app scope the root's table cannot honour."""
    missing = [c for c in (root.key, *root.recency_columns, *root.only_null) if not snap.has_column(root.table, c)]
    if missing:
        raise MaintenanceError(f"{root.table} lacks {', '.join(missing)}: this schema is not one the purge understands")
    scope_columns = [c for c in root.scope_columns if snap.has_column(root.table, c)]
    if (policy.app_ids or policy.exclude_app_ids or policy.tenant_ids or policy.exclude_tenant_ids) and not scope_columns:
        raise MaintenanceError(f"{root.table} has no tenant or app column to apply the tenant/app filters to")
    return scope_columns


def _carried_columns(
    root: Root, snap: SchemaSnapshot, policy: Policy, paths: list[PathPlan], scope_columns: list[str]
) -> list[str]:
    """The root row's columns a batch carries from its first statement to the last: the key, what
    the cutoff and scope read, what the keep rules and the child paths join on."""
    wanted = [root.key, *root.recency_columns, *root.only_null, *scope_columns]
    if root.status_column and snap.has_column(root.table, root.status_column):
        wanted.append(root.status_column)
    for path in paths:
        wanted.extend((path.steps[0].parent_key, *(parent for _child, parent in path.steps[0].match)))
    if root.group_column and policy.messages_scope == "conversation" and snap.has_column(root.table, root.group_column):
        wanted.append(root.group_column)
    if any(snap.has_table(m.table) for m in root.month_indexes) and snap.has_column(root.table, "tenant_id"):
        wanted.extend(("tenant_id", "created_at"))
    return list(dict.fromkeys(wanted))


# every keep rule's SQL fields; each kind sets the ones it uses
_BLANK_RULE = {
    "key": None,
    "status_column": None,
    "ref_table": None,
    "ref_column": None,
    "role_column": None,
    "ledger_key": None,
    "status": None,
}


def _keep_rules(
    root: Root,
    snap: SchemaSnapshot,
    policy: Policy,
    paths: list[PathPlan],
    carry: list[str],
    params: dict,
    ledger_keys: dict[str, str],
) -> list[KeepRule]:
    """Every reason a row of ``root`` older than the cutoff stays, in the order the statement
    checks them (``params`` gains the rules' bind values)."""
    blank = {**_BLANK_RULE, "key": root.key}
    rules: list[KeepRule] = []
    if root.status_column and root.status_column in carry:
        params["statuses"] = list(root.purgeable_statuses)
        rules.append(KeepRule("in flight (status not ended)", {**blank, "kind": "status", "status_column": root.status_column}))
    for ref in root.references:
        rule = _reference_rule(ref, snap, policy, params, ledger_keys, blank, index=len(rules))
        if rule:
            rules.append(rule)
    if root.group_column and policy.messages_scope == "conversation" and snap.has_column(root.table, root.group_column):
        rules.append(
            KeepRule(
                f"its {root.group_column.removesuffix('_id')} has a {root.table.removesuffix('s')} newer than the cutoff "
                "(messages_scope: conversation)",
                {
                    **blank,
                    "kind": "group",
                    "ref_table": root.table,
                    "ref_column": root.group_column,
                    "newer_column": root.recency_columns[0],
                },
            )
        )
    for month_index in root.month_indexes:
        if snap.has_table(month_index.table) and snap.has_column(root.table, "tenant_id"):
            rules.append(KeepRule(month_index.reason, {**blank, "kind": "month_index", "ref_table": month_index.table}))
    rules.extend(_descendant_rules(root, snap, policy, paths, params, blank))
    return rules


def _reference_rule(ref, snap: SchemaSnapshot, policy: Policy, params: dict, ledger_keys: dict, blank: dict, index: int):
    """Another table's row names this one: it stays (None when that table or column is absent here)."""
    if not (snap.has_table(ref.table) and snap.has_column(ref.table, ref.column)):
        return None
    if ref.curated and not policy.keep_curated:
        return None
    role = ref.role_column if ref.role_column and snap.has_column(ref.table, ref.role_column) else None
    role_param, ledger_param = f"role_{index}", f"ledger_{index}"
    if role:
        params[role_param] = ref.role_value
    if ref.table in ledger_keys:
        params[ledger_param] = ref.table
    return KeepRule(
        ref.reason,
        {
            **blank,
            "kind": "reference",
            "ref_table": ref.table,
            "ref_column": ref.column,
            "role_column": role,
            "role_param": role_param,
            "ledger_key": ledger_keys.get(ref.table) if ref.freed_by_purge else None,
            "ledger_param": ledger_param,
        },
    )


def _descendant_rules(
    root: Root, snap: SchemaSnapshot, policy: Policy, paths: list[PathPlan], params: dict, blank: dict
) -> list[KeepRule]:
    """A row stays while something below it must: a curated descendant, an unfinished one, or one
    newer than the cutoff."""
    rules = []
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
        if path.status:
            rules.append(
                KeepRule(
                    f"has an unfinished {path.table}",
                    {**blank, "kind": "descendant", "path": path.render_steps(), "newer_column": None, "status": path.status},
                )
            )
        if path.recency_column:
            rules.append(
                KeepRule(
                    f"has {path.table} newer than the cutoff",
                    {**blank, "kind": "descendant", "path": path.render_steps(), "newer_column": path.recency_column},
                )
            )
    return rules


def choose_walk(root: Root, snap: SchemaSnapshot) -> tuple[str, str]:
    """How to find the expired rows of ``root``, from the indexes and server this database has."""
    keyset_column = root.recency_columns[0]
    for column in root.only_null:
        # the few rows whose column is NULL (single-step debug runs among a run's node executions),
        # found through an index on that column: a btree holds NULLs too
        index = next((i for i in snap.indexes.get(root.table, []) if not i.partial and i.columns[:1] == (column,)), None)
        if index:
            return "null_index", f"rows with {column} NULL through index {index.name}: batches visit only those"
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
        if path.reverse:  # a row the root names stays while another root row names it too
            out.append(
                indexes.find_lookup(
                    snap, root.table, step.parent_key, set(), f"{root.table} rows left that name a {path.table} of a purged one"
                )
            )
    for rule in rules:
        if rule.sql["kind"] == "group":
            out.append(
                indexes.find_lookup(snap, rule.sql["ref_table"], rule.sql["ref_column"], set(), f"keep rule '{rule.reason}'")
            )
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
    # "parent": the distinct parent values through the index that leads with the parent column (a
    # child table's rows per parent are read only where the parent is gone); "pk": windows of the
    # primary key (no such index)
    walk: str = "pk"
    scope_columns: list[str] = field(default_factory=list)

    @property
    def cand(self) -> str:
        return f"_dm_orph_{self.table}"


def _scoped(policy: Policy) -> bool:
    return bool(policy.tenant_ids or policy.exclude_tenant_ids or policy.app_ids or policy.exclude_app_ids)


def plan_orphans(fam: Family, snap: SchemaSnapshot, policy: Policy, notes: list[str] | None = None) -> list[OrphanPlan]:
    """Every edge of the family whose child may have outlived its parent, shallow edges first.

    A run scoped to tenants or apps sweeps only the orphans it can tell are in scope, by the
    child row's own tenant or app column; a child table without one is not swept (noted)."""
    seen: dict[tuple[str, str], tuple[int, OrphanPlan]] = {}
    for root in fam.roots:
        for path in catalog.descendants(root, policy.keep_curated):
            if not all(e.sweep_orphans for e in path.edges):
                continue  # below a reverse edge: swept by the family that owns those tables
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
            scope_columns = [c for c in ("tenant_id", "app_id") if snap.has_column(edge.table, c)]
            needs = {"tenant_id" if policy.tenant_ids or policy.exclude_tenant_ids else None}
            needs |= {"app_id" if policy.app_ids or policy.exclude_app_ids else None}
            needs.discard(None)
            # tenants reach rows without a tenant column through their app (the scope macro)
            if _scoped(policy) and not (needs <= set(scope_columns) or (needs == {"tenant_id"} and "app_id" in scope_columns)):
                if notes is not None and (edge.table, edge.parent_column) not in seen:
                    notes.append(
                        f"orphaned {edge.table} not swept: this run is limited to tenants or apps and {edge.table} "
                        "has no tenant or app column to tell whose an orphan is"
                    )
                seen.setdefault((edge.table, edge.parent_column), (len(path.edges), None))
                continue
            index = snap.index_for_equalities(edge.table, {edge.parent_column}, must_use=edge.parent_column)
            leads = index is not None and index.columns[:1] == (edge.parent_column,)
            plan = OrphanPlan(
                stage=f"orphans:{edge.table}.{edge.parent_column}",
                table=edge.table,
                keys=keys,
                parent_table=parent_table,
                parent_column=edge.parent_column,
                parent_key=edge.parent_key,
                recency=recency,
                null_is_orphan=edge.null_is_orphan,
                walk="parent" if leads else "pk",
                scope_columns=scope_columns,
            )
            seen.setdefault((edge.table, edge.parent_column), (len(path.edges), plan))
    return [plan for _depth, plan in sorted(seen.values(), key=lambda item: item[0]) if plan is not None]
