"""The steps of a retention run, callable with or without Airflow.

Each function is one task of ``dify_retention``: preflight, plan, archive gate, purge (per
family), vacuum, verify, report. They pass small JSON-able dicts to each other, so the same
functions back the DAG, the demo and the tests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from dify_maintenance.core import catalog, drift, runs, state, tablestats
from dify_maintenance.core.db import Connector, connection, execute, fetch_all, fetch_one
from dify_maintenance.core.errors import MaintenanceError
from dify_maintenance.core.moments import naive_utc
from dify_maintenance.core.policy import Policy
from dify_maintenance.core.schema import snapshot
from dify_maintenance.retention import batches, indexes
from dify_maintenance.retention.indexes import Lookup
from dify_maintenance.retention.plan import cutoff, plan_root
from dify_maintenance.retention.proof import RowProof
from dify_maintenance.storage.archive import ArchiveWriter
from dify_maintenance.storage.stores import StoreConfig, check_store, key_part

log = logging.getLogger(__name__)

# How often the operator's stop switch (an Airflow Variable, one API call) is read.
STOP_POLL_SECONDS = 5.0


def archive_prefix(run_key: str) -> str:
    dag_id, _, run_id = run_key.partition("/")
    return f"retention/{key_part(dag_id)}/{key_part(run_id)}"


def compute_cutoffs(policy: Policy, logical_date: datetime) -> dict[str, str]:
    """Cutoffs in Dify's convention (naive UTC), from the run's logical date, per family."""
    moment = naive_utc(logical_date)
    return {name: (moment - timedelta(days=policy.days_for(name))).isoformat() for name in policy.families}


def preflight(
    connector: Connector,
    policy: Policy,
    *,
    dag_id: str,
    run_id: str,
    logical_date: datetime,
    first_run_guard: bool = False,
    cutoffs: dict[str, str] | None = None,
) -> dict:
    """Check everything that can be checked before a row is touched, then claim the database.

    Stops with a clear message when the connection fails, the database is not Dify, its
    version is unknown, or another maintenance run holds it. The cutoffs are fixed here and
    stored: a retry of any later task reads these, never newer ones.

    ``first_run_guard`` (the policy's ``first_run_dry_run``, unless the run's form chose dry run
    or not itself) makes the first run of ``dag_id`` on this database a dry run: unpausing the
    DAG starts a run at once, and its first report should say what it would delete.

    ``cutoffs`` (naive UTC, per family) replace the policy's days: cleanup-pg deletes before the
    date its validation covered.
    """
    run_key = runs.run_key(dag_id, run_id)
    with connection(connector) as conn:
        snap = snapshot(conn)
        purged = {t for name in policy.families for t in catalog.tables_of(catalog.family(name), policy.keep_curated)}
        version, notes = drift.checked_version(conn, snap, purged, policy.stop_on_unknown_version)
        walks: dict[str, str] = {}
        lookups: dict[tuple[str, str], Lookup] = {}
        for name in policy.families:
            fam = catalog.family(name)
            for root in fam.roots:
                plan = plan_root(root, snap, policy)
                if plan is None:
                    notes.append(f"{root.table}: not in {version.version}, skipped")
                    continue
                walks[root.name] = f"{plan.walk}: {plan.walk_reason}"
                notes.extend(n for n in plan.notes if n not in notes)
                lookups.update({(lk.table, lk.column): lk for lk in plan.lookups})
        state.ensure_schema(conn)
        if first_run_guard and policy.first_run_dry_run and not policy.dry_run and not state.ran_before(conn, dag_id, run_key):
            policy = replace(policy, dry_run=True)
            notes.insert(
                0,
                f"first run of {dag_id} on this database, so a dry run (policy first_run_dry_run): the next run "
                "deletes; to purge now, trigger with dry_run off",
            )
        row = runs.begin(
            conn,
            key=run_key,
            dag_id=dag_id,
            run_id=run_id,
            cutoffs=cutoffs or compute_cutoffs(policy, logical_date),
            settings=policy.to_dict(),
            dify_version=version.version,
            db_now=fetch_one(conn, "introspect/server.sql")["now"],
            claim=not policy.dry_run,
        )
    ctx = {
        "run_key": run_key,
        "dag_id": dag_id,
        "dify_version": version.version,
        "dify_revision": version.revision,
        "cutoffs": row["cutoffs"],
        "policy": row["policy"],
        "archive_prefix": archive_prefix(run_key),
        "started_at": row["started_at"].isoformat(),
        "families": [f for f in policy.families if f in row["cutoffs"]],
        "walks": walks,
        "lookups": [lk.describe() for lk in lookups.values()],
        "unindexed_lookups": [lk.describe() for lk in lookups.values() if lk.index is None],
        "notes": notes,
    }
    log.info("preflight: %s; cutoffs %s; %d notes", version.describe(), ctx["cutoffs"], len(notes))
    for note in notes:
        log.info("note: %s", note)
    for lookup in lookups.values():
        (log.info if lookup.index else log.warning)("lookup %s", lookup.describe())
    return ctx


def plan(connector: Connector, ctx: dict, policy: Policy) -> dict:
    """Expired root rows per table and the size of every table a family may touch."""
    result: dict[str, dict] = {"roots": {}, "tables": {}}
    with connection(connector) as conn:
        snap = snapshot(conn)
        tables: set[str] = set()
        for name in ctx["families"]:
            fam = catalog.family(name)
            family_cutoff = cutoff(ctx, name)
            tables.update(t for t in catalog.tables_of(fam, policy.keep_curated) if snap.has_table(t))
            for root in fam.roots:
                rplan = plan_root(root, snap, policy)
                if rplan is None:
                    continue
                tmpl = rplan.template
                params = rplan.params
                row = fetch_one(
                    conn,
                    "plan/expired_roots.sql",
                    {**params, "cutoff": family_cutoff},
                    table=root.table,
                    recency=tmpl["recency"],
                    only_null=tmpl["only_null"],
                    scope_columns=tmpl["scope_columns"],
                    filters=tmpl["filters"],
                )
                result["roots"][root.name] = {
                    "family": name,
                    "table": root.table,
                    "expired": int(row["expired"]) if row else 0,
                    "cutoff": ctx["cutoffs"][name],
                    "walk": f"{rplan.walk}: {rplan.walk_reason}",
                }
        for row in fetch_all(conn, "introspect/table_sizes.sql", {"tables": sorted(tables)}):
            result["tables"][row["table_name"]] = {"rows_estimate": int(row["row_estimate"]), "bytes": int(row["total_bytes"])}
    for name, info in result["roots"].items():
        log.info("plan: %s expired=%d (%s)", name, info["expired"], info["walk"])
    return result


def archive_gate(policy: Policy, store: StoreConfig | None) -> dict:
    """The purge may start only after the archive store proved it can take and give back bytes."""
    if policy.dry_run:
        return {"archive": "not needed (dry run)"}
    if not policy.archive:
        log.warning("archive is OFF by explicit policy: deleted rows will not be recoverable from an archive")
        return {"archive": "off (explicitly opted out)"}
    if store is None:
        raise MaintenanceError("archive is on but no archive store is configured")
    return {"archive": check_store(store)}


def stop_condition(
    ctx: dict, policy: Policy, stop_requested: Callable[[], bool] | None, db_now: datetime
) -> Callable[[], str | None]:
    """Why the purge should end after the current batch, if it should: the run's time budget
    (counted from preflight, so retries do not extend it) or the operator's stop switch.

    The budget's start was stamped by the database's clock; what is left of it is measured
    against that same clock (``db_now``) once, then counted down on this worker's monotonic
    clock, so a worker whose wall clock is off never ends (or extends) a purge wrongly."""
    deadline = None
    if policy.time_budget_minutes:
        budget_end = datetime.fromisoformat(ctx["started_at"]) + timedelta(minutes=policy.time_budget_minutes)
        deadline = time.monotonic() + (budget_end - db_now).total_seconds()
    last_asked = [0.0]

    def check() -> str | None:
        if deadline is not None and time.monotonic() >= deadline:
            return f"time budget of {policy.time_budget_minutes} minutes used up"
        if stop_requested is not None and time.monotonic() - last_asked[0] >= STOP_POLL_SECONDS:
            last_asked[0] = time.monotonic()
            if stop_requested():
                return "stopped by the operator (stop switch)"
        return None

    return check


def run_purge(
    connector: Connector,
    ctx: dict,
    family_name: str,
    policy: Policy,
    store: StoreConfig | None,
    stop_requested: Callable[[], bool] | None = None,
    proof: RowProof | None = None,
) -> dict:
    fam = catalog.family(family_name)
    if family_name not in ctx["families"]:
        raise MaintenanceError(f"family {family_name!r} is not part of this run")
    writer = None
    if policy.archive and not policy.dry_run:
        if store is None:
            raise MaintenanceError("archive is on but no archive store is configured")
        writer = ArchiveWriter(
            store,
            ctx["archive_prefix"],
            {"run_key": ctx["run_key"], "dify_version": ctx["dify_version"], "cutoff": ctx["cutoffs"][family_name]},
        )
    with connection(connector) as conn:
        db_now = fetch_one(conn, "introspect/server.sql")["now"]
    try:
        stop = stop_condition(ctx, policy, stop_requested, db_now)
        result = batches.purge_family(connector, ctx, fam, policy, writer, stop, proof)
    finally:
        if writer is not None:
            writer.close()
    result["cutoff"] = ctx["cutoffs"][family_name]
    return result


def drop_built_indexes(connector: Connector, policy: Policy) -> list[str]:
    """With ``keep_built_indexes`` off, the end of a run drops the indexes it built (by default
    they stay: building one on a big table every week costs more than keeping it)."""
    if policy.keep_built_indexes:
        return []
    with connection(connector) as conn:
        dropped = indexes.drop_ours(conn)
    for name in dropped:
        log.info("dropped temporary index %s", name)
    return dropped


def purged_tables(results: list[dict], counter: str = "deleted") -> list[str]:
    """Tables with rows deleted (or, for a dry run's ``would_delete``, to be deleted), in purge order."""
    tables: list[str] = []
    for result in results:
        for table, counters in result["tables"].items():
            if counters.get(counter, 0) and table not in tables:
                tables.append(table)
    return tables


def vacuum(connector: Connector, tables: list[str], dry_run: bool) -> dict:
    """VACUUM (ANALYZE) each purged table: one statement per autocommit call (VACUUM cannot run
    in a transaction block), with size, dead tuples and reclaimable space before and after
    (pgstattuple_approx when installed, else estimated from the catalog)."""
    out: dict[str, dict] = {}
    if dry_run:
        return out
    with connection(connector, autocommit=True) as conn:
        pgstattuple = tablestats.has_pgstattuple(conn)
        for table in tables:
            before = tablestats.measure(conn, table, pgstattuple)
            execute(conn, "vacuum/vacuum_analyze.sql", table=table)
            after = tablestats.measure(conn, table, pgstattuple)
            out[table] = {
                "method": after["method"],
                "bytes_before": before["total_bytes"],
                "bytes_after": after["total_bytes"],
                "dead_before": before["dead_tuples"],
                "dead_after": after["dead_tuples"],
                "reclaimable_before": before["reclaimable_bytes"],
                "reclaimable_after": after["reclaimable_bytes"],
            }
            log.info(
                "vacuum %s: dead tuples %d -> %d, reusable %.1f MB (%s)",
                table,
                before["dead_tuples"],
                after["dead_tuples"],
                after["reclaimable_bytes"] / 1e6,
                after["method"],
            )
    return out
