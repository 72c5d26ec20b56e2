"""Verify a retention run: no purgeable root row left, no orphan older than the cutoff under any
purged edge, and every deleted row in the archive (read back from the manifests). Any mismatch
fails the run loudly; a deferred family's leftovers are expected and said so."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg

from dify_maintenance.core import catalog
from dify_maintenance.core.db import Connector, connection, fetch_all, fetch_one
from dify_maintenance.core.errors import VerificationFailed
from dify_maintenance.core.moments import naive_utc
from dify_maintenance.core.policy import Policy
from dify_maintenance.core.schema import SchemaSnapshot, snapshot
from dify_maintenance.retention.chain import array_type
from dify_maintenance.retention.plan import cutoff, plan_orphans, plan_root, scope_filters
from dify_maintenance.retention.restore import restore_rows
from dify_maintenance.storage.archive import archived_rows
from dify_maintenance.storage.stores import StoreConfig

log = logging.getLogger(__name__)


def verify(connector: Connector, ctx: dict, policy: Policy, results: list[dict], store: StoreConfig | None) -> dict:
    """Prove the invariants: no purgeable row left, no orphan of a purged parent, and every
    deleted row in the archive. Any mismatch fails the run loudly."""
    checks: list[dict] = []
    deferred = {r["family"]: r["deferred"] for r in results if r.get("deferred")}
    unswept = {r["family"] for r in results if r.get("orphan_sweeps_skipped")}
    # roots a check at the moment of deleting (cleanup-pg's proof) kept: still purgeable, on purpose
    unproven: dict[str, int] = {}
    for r in results:
        if proof := r.get("proof"):
            for table, counters in r["tables"].items():
                unproven[table] = unproven.get(table, 0) + int(counters.get("kept", {}).get(proof["reason"], 0))
    with connection(connector) as conn:
        snap = snapshot(conn)
        for name in ctx["families"]:
            fam = catalog.family(name)
            family_cutoff = cutoff(ctx, name)
            for root in fam.roots:
                rplan = plan_root(root, snap, policy)
                if rplan is None:
                    continue
                tmpl = rplan.template
                params = {**rplan.params, "cutoff": family_cutoff}
                rules = [rule.sql for rule in rplan.keep_rules]
                row = fetch_one(
                    conn,
                    "verify/remaining_roots.sql",
                    params,
                    table=root.table,
                    key=root.key,
                    recency=tmpl["recency"],
                    only_null=tmpl["only_null"],
                    scope_columns=tmpl["scope_columns"],
                    filters=tmpl["filters"],
                    rules=rules,
                )
                check = {"check": f"no purgeable {root.table} left", "family": name, "found": int(row["remaining"])}
                if name in deferred:
                    check["note"] = f"deferred ({deferred[name]}): left for the next run"
                elif unproven.get(root.table):
                    check["allowed"] = unproven[root.table]
                    check["note"] = f"{unproven[root.table]} kept without a current document in the log cluster (reported)"
                checks.append(check)
            flags, scope = scope_filters(policy)
            for oplan in plan_orphans(fam, snap, policy):
                row = fetch_one(
                    conn,
                    "verify/orphans.sql",
                    {"cutoff": family_cutoff, **scope},
                    table=oplan.table,
                    recency=oplan.recency,
                    parent_table=oplan.parent_table,
                    parent_column=oplan.parent_column,
                    parent_key=oplan.parent_key,
                    null_is_orphan=oplan.null_is_orphan,
                    scope_columns=oplan.scope_columns,
                    filters=flags,
                )
                check = {
                    "check": f"no orphaned {oplan.table} ({oplan.parent_column})",
                    "family": name,
                    "found": int(row["orphans"]),
                }
                if name in deferred:
                    check["note"] = f"deferred ({deferred[name]}): the orphan sweep continues next run"
                elif name in unswept:
                    check["allowed"] = check["found"]
                    check["note"] = "not swept here (each row must be proved by its root); the weekly retention sweeps them"
                checks.append(check)
        if not policy.dry_run:
            checks.append(_written_under_deleted_parents(conn, snap, ctx, policy, store))
            checks.append(_naming_deleted_rows(conn, snap, ctx, policy, store))
    if policy.dry_run:
        for check in checks:
            check["ok"] = True
            check["note"] = "dry run: reported, not enforced"
    else:
        for check in checks:
            check["ok"] = check["found"] <= check.get("allowed", 0) or "deferred" in check.get("note", "")
    if policy.archive and not policy.dry_run and store is not None:
        archived = archived_rows(store, ctx["archive_prefix"])
        deleted: dict[str, int] = {}
        for result in results:
            for table, counters in result["tables"].items():
                deleted[table] = deleted.get(table, 0) + int(counters.get("deleted", 0))
        for table in sorted(set(deleted) | set(archived)):
            ok = archived.get(table, 0) == deleted.get(table, 0)
            checks.append(
                {
                    "check": f"archived {table} == deleted",
                    "found": archived.get(table, 0),
                    "expected": deleted.get(table, 0),
                    "ok": ok,
                }
            )
    failed = [c for c in checks if not c["ok"]]
    failed.sort(key=lambda c: "rows" not in c)  # the rows a person must look at come first
    for check in checks:
        log.info("verify %s: %s", "ok  " if check["ok"] else "FAIL", check)
    summary = {"checks": checks, "failed": len(failed)}
    if failed:
        raise VerificationFailed(
            "verification failed: "
            + "; ".join(
                f"{c['check']} (found {c['found']}{': ' + ', '.join(c['rows'][:5]) if c.get('rows') else ''})" for c in failed
            )
        )
    return summary


@dataclass(frozen=True)
class _Link:
    """A column whose value names a row of a table the run purges (an edge or a reference)."""

    table: str
    column: str
    parent_table: str
    parent_key: str
    role_column: str | None
    role_value: str | None
    recency: str | None
    owning: bool = True  # an edge (the row belongs to its parent); else a reference


def _links(families: list[str], snap: SchemaSnapshot, policy: Policy) -> list[_Link]:
    links: dict[tuple, _Link] = {}
    for name in families:
        for root in catalog.family(name).roots:
            for path in catalog.descendants(root, policy.keep_curated):
                edge = path.edges[-1]
                if edge.sweep_orphans:  # a reverse edge has no column naming its parent
                    link = _Link(
                        edge.table, edge.parent_column, path.parent_table, edge.parent_key, None, None, edge.recency_column
                    )
                    links.setdefault((link.table, link.column, link.parent_table), link)
                elif len(path.edges) == 1:  # the root names the row: a reference from the root's table
                    link = _Link(root.table, edge.parent_key, edge.table, edge.parent_column, None, None, "created_at", False)
                    links.setdefault((link.table, link.column, link.parent_table), link)
            for ref in root.references:
                role = ref.role_column if ref.role_column and snap.has_column(ref.table, ref.role_column) else None
                link = _Link(
                    ref.table, ref.column, root.table, root.key, role, ref.role_value if role else None, "created_at", False
                )
                links.setdefault((link.table, link.column, link.parent_table), link)
    return [
        link
        for link in links.values()
        if snap.has_table(link.table)
        and snap.has_table(link.parent_table)
        and snap.has_column(link.table, link.column)
        and snap.primary_key(link.table)
    ]


def _written_under_deleted_parents(
    conn: psycopg.Connection, snap: SchemaSnapshot, ctx: dict, policy: Policy, store: StoreConfig | None
) -> dict:
    """Rows a live Dify wrote during the run under a parent the run deleted (in the instant
    between a batch's re-check and its commit). The run's archive, when there is one, gives the
    parent back (and its own parent, if that went too); a row whose parent cannot come back is
    named in the report, since Dify would fail to load it."""
    started = datetime.fromisoformat(ctx["started_at"])
    started = naive_utc(started)
    # Rows carry the writer's dates. The run began at ``started_at`` on the database's clock and at
    # its logical date on Airflow's; a scheduled run's logical date may lie a week back, and where
    # the two clocks disagree (make test-future moves only the workers'), the later one is the
    # moment from which a row can only have been written during the run.
    logical = max(cutoff(ctx, name) + timedelta(days=policy.days_for(name)) for name in ctx["families"])
    since = max(started, logical)
    links = _links(ctx["families"], snap, policy)
    can_restore = policy.archive and store is not None
    restored: dict[str, list[str]] = {}
    dangling: list[str] = []
    for final in (False, False, False, False, True):
        dangling, progress = [], False
        for link in links:
            rows = fetch_all(
                conn,
                "verify/dangling_since.sql",
                {"since": since, "role": link.role_value, "restored": restored.get(link.table, [])},
                table=link.table,
                column=link.column,
                child_key=snap.primary_key(link.table)[0],
                parent_table=link.parent_table,
                parent_key=link.parent_key,
                role_column=link.role_column,
                recency=link.recency if link.recency and snap.has_column(link.table, link.recency) else None,
            )
            if not rows:
                continue
            back: list[str] = []
            if can_restore and not final:
                parents = [row["parent"] for row in rows]
                back = restore_rows(conn, store, ctx["archive_prefix"], link.parent_table, link.parent_key, parents)
                if back:
                    progress = True
                    restored.setdefault(link.parent_table, []).extend(back)
                    log.warning(
                        "verify: put %d %s rows back from the archive: a live write named them", len(back), link.parent_table
                    )
            dangling += [
                f"{link.table} {r['child']} -> {link.parent_table} {r['parent']}" for r in rows if r["parent"] not in back
            ]
        if not progress:
            break
    check = {
        "check": "no row written during the run under a parent it deleted",
        "found": len(dangling),
        "ok": not dangling,
        "restored": {table: len(keys) for table, keys in restored.items()},
    }
    if dangling:
        check["rows"] = dangling[:20]
        check["note"] = (
            "a live Dify wrote these rows under parents this run deleted, and the archive cannot give the parents back"
            + ("" if can_restore else " (archive off)")
        )
    elif restored:
        check["note"] = "parents put back from the run's archive: " + ", ".join(
            f"{n} {t}" for t, n in sorted(check["restored"].items())
        )
    return check


def _naming_deleted_rows(
    conn: psycopg.Connection, snap: SchemaSnapshot, ctx: dict, policy: Policy, store: StoreConfig | None
) -> dict:
    """Every reference against the rows this run deleted (recorded per batch): a row left that
    names one (a remaining chatflow message whose run went with an older message, whatever its
    age) gets its parent back from the run's archive, or is named, and verify fails."""
    can_restore = policy.archive and store is not None
    restored: dict[str, int] = {}
    named: list[str] = []
    for link in _links(ctx["families"], snap, policy):
        if link.owning:
            continue
        rows = fetch_all(
            conn,
            "verify/named_deleted.sql",
            {"run_key": ctx["run_key"], "parent_table": link.parent_table, "role": link.role_value},
            table=link.table,
            column=link.column,
            child_key=snap.primary_key(link.table)[0],
            role_column=link.role_column,
            column_type=array_type(snap, link.table, link.column),
            parent_table=link.parent_table,
            parent_key=link.parent_key,
        )
        if not rows:
            continue
        back: list[str] = []
        if can_restore:
            back = restore_rows(
                conn, store, ctx["archive_prefix"], link.parent_table, link.parent_key, [r["parent"] for r in rows]
            )
            if back:
                restored[link.parent_table] = restored.get(link.parent_table, 0) + len(back)
                log.warning("verify: put %d %s rows back from the archive: rows left name them", len(back), link.parent_table)
        named += [f"{link.table} {r['child']} -> {link.parent_table} {r['parent']}" for r in rows if r["parent"] not in back]
    check = {"check": "no row left names a row this run deleted", "found": len(named), "ok": not named, "restored": restored}
    if named:
        check["rows"] = named[:20]
        check["note"] = "rows left name rows this run deleted, and the archive cannot give them back" + (
            "" if can_restore else " (archive off)"
        )
    elif restored:
        check["note"] = "put back from the run's archive: " + ", ".join(f"{n} {t}" for t, n in sorted(restored.items()))
    return check
