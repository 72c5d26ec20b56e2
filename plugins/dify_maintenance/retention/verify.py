"""Verify a retention run: no purgeable root row left, no orphan older than the cutoff under any
purged edge, and every deleted row in the archive (read back from the manifests). Any mismatch
fails the run loudly; a deferred family's leftovers are expected and said so."""

from __future__ import annotations

import logging

from dify_maintenance.core import catalog
from dify_maintenance.core.db import Connector, connection, fetch_one
from dify_maintenance.core.errors import VerificationFailed
from dify_maintenance.core.policy import Policy
from dify_maintenance.core.schema import snapshot
from dify_maintenance.files.stores import StoreConfig
from dify_maintenance.retention.archive import archived_rows
from dify_maintenance.retention.plan import cutoff, plan_orphans, plan_root

log = logging.getLogger(__name__)


def verify(connector: Connector, ctx: dict, policy: Policy, results: list[dict], store: StoreConfig | None) -> dict:
    """Prove the invariants: no purgeable row left, no orphan of a purged parent, and every
    deleted row in the archive. Any mismatch fails the run loudly."""
    checks: list[dict] = []
    deferred = {r["family"]: r["deferred"] for r in results if r.get("deferred")}
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
                checks.append(check)
            for oplan in plan_orphans(fam, snap, policy):
                row = fetch_one(
                    conn,
                    "verify/orphans.sql",
                    {"cutoff": family_cutoff},
                    table=oplan.table,
                    recency=oplan.recency,
                    parent_table=oplan.parent_table,
                    parent_column=oplan.parent_column,
                    parent_key=oplan.parent_key,
                    null_is_orphan=oplan.null_is_orphan,
                )
                check = {
                    "check": f"no orphaned {oplan.table} ({oplan.parent_column})",
                    "family": name,
                    "found": int(row["orphans"]),
                }
                if name in deferred:
                    check["note"] = f"deferred ({deferred[name]}): the orphan sweep continues next run"
                checks.append(check)
    if policy.dry_run:
        for check in checks:
            check["ok"] = True
            check["note"] = "dry run: reported, not enforced"
    else:
        for check in checks:
            check["ok"] = check["found"] == 0 or "deferred" in check.get("note", "")
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
    for check in checks:
        log.info("verify %s: %s", "ok  " if check["ok"] else "FAIL", check)
    summary = {"checks": checks, "failed": len(failed)}
    if failed:
        raise VerificationFailed("verification failed: " + "; ".join(f"{c['check']} (found {c['found']})" for c in failed))
    return summary
