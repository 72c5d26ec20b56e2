"""The steps of ``dify_pre_upgrade_cleanup``, callable with or without Airflow.

preflight → current version → upgrade impact → backup → verify backup (the gate) → purge (the
retention engine with this run's keep window) → verify purge → reclaim → analyze → report.
A dry run (the default) measures, plans and reports, and writes nothing to Dify or the store.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from dify_maintenance.core import catalog
from dify_maintenance.core.catalog import FAMILY_NAMES
from dify_maintenance.core.db import DbTarget, connection, execute, fetch_one
from dify_maintenance.core.errors import InvalidPolicy, MaintenanceError
from dify_maintenance.core.forms import check_typed_confirmation
from dify_maintenance.core.policy import Policy, from_dict, resolve
from dify_maintenance.core.schema import detect_version, snapshot
from dify_maintenance.database import backup, reclaim, schema_diff
from dify_maintenance.database import upgrade_impact as upgrade
from dify_maintenance.database.backup import BackupRequest
from dify_maintenance.database.forms import PRE_UPGRADE_FORM
from dify_maintenance.retention import steps as retention
from dify_maintenance.storage.stores import StoreConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Request:
    """The trigger form, validated (fields, bounds and defaults: ``PRE_UPGRADE_FORM``).
    ``confirm_database`` must name the database for a real run."""

    keep_days: int
    target_version: str
    target_schema: str | None
    backup_scope: str
    backup_tables: tuple[str, ...]
    skip_backup: bool
    restore_check: bool
    reclaim_strategy: str
    reclaim_min_mb: int
    disk_check: bool
    archive: bool
    dry_run: bool
    confirm_database: str | None

    def backup_request(self) -> BackupRequest:
        return BackupRequest(scope=self.backup_scope, tables=self.backup_tables, exact_counts=self.restore_check)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["backup_tables"] = list(self.backup_tables)
        return data


def _cross_checks(values: dict) -> list[str]:
    errors = []
    if values["target_schema"] and not Path(values["target_schema"]).is_file():
        errors.append(f"target_schema {values['target_schema']} is not a file (a pg_dump -s file or a snapshot .json)")
    try:
        BackupRequest(scope=values["backup_scope"], tables=tuple(values["backup_tables"] or ())).validate()
    except MaintenanceError as exc:
        errors.append(str(exc))
    return errors


def request_from(params: dict) -> Request:
    """Build and validate the request from Params (or a recorded dict); every problem at once."""
    values = PRE_UPGRADE_FORM.checked(params, "pre-upgrade", _cross_checks)
    return Request(**{**values, "backup_tables": tuple(values["backup_tables"] or ())})


def policy_for(req: Request, variable: str | dict | None = None) -> Policy:
    """The retention policy of this run: the deployment's, with this run's keep window for every family."""
    days = {"workflow_logs_days": req.keep_days, "messages_days": req.keep_days, "end_users_days": req.keep_days}
    return resolve(variable, {**days, "families": list(FAMILY_NAMES), "dry_run": req.dry_run, "archive": req.archive})


def preflight(
    target: DbTarget,
    req: Request,
    policy: Policy,
    *,
    dag_id: str,
    run_id: str,
    logical_date: datetime,
    backup_store: StoreConfig | None = None,
) -> dict:
    """Everything checkable before a byte moves: connection, Dify version, target version, the
    typed confirmation, backup tables, an explicitly requested pg_repack, and (unless the backup
    is skipped) what the backup will need: clients, a writable store, room. A dry run checks all
    of it too, so it never reports a plan that the real run would fail on. Then claim the database."""
    with connection(target) as conn:
        snap = snapshot(conn)
        version = detect_version(conn, snap)
        database = fetch_one(conn, "introspect/server.sql")["database"]
        upgrade.validate_target(version.version, req.target_version)
        check_typed_confirmation(database, req.dry_run, req.confirm_database)
        missing = sorted(t for t in req.backup_tables if not snap.has_table(t))
        if missing:
            raise InvalidPolicy(f"backup tables not in the database: {', '.join(missing)}")
        if req.reclaim_strategy == "repack":
            caps = reclaim.capabilities(conn)
            if not caps.repack:
                raise InvalidPolicy(f"reclaim strategy repack asked for, but {caps.repack_reason}")
    ready = None
    if not req.skip_backup:
        if backup_store is None:
            raise InvalidPolicy("a backup is asked for but no backup store is configured")
        ready = backup.readiness(target, backup_store, req.backup_request())
        log.info("backup readiness: %s", ready)
    if req.skip_backup and not req.dry_run:
        log.warning(
            "backup SKIPPED by explicit request: %s",
            "deleted rows are recoverable only from the archive" if req.archive else "nothing will protect the deleted rows",
        )
    ctx = retention.preflight(target, policy, dag_id=dag_id, run_id=run_id, logical_date=logical_date)
    ctx["database"] = database
    ctx["request"] = req.to_dict()
    ctx["backup_readiness"] = ready
    return ctx


def current_version(target: DbTarget, ctx: dict) -> dict:
    with connection(target) as conn:
        sizes = schema_diff.table_sizes(conn)
    total = sum(int(s["total_bytes"]) for s in sizes.values())
    log.info(
        "current: Dify %s (alembic %s), %d tables, %.1f MB", ctx["dify_version"], ctx["dify_revision"], len(sizes), total / 1e6
    )
    return {"version": ctx["dify_version"], "revision": ctx["dify_revision"], "tables": len(sizes), "total_bytes": total}


def upgrade_impact(target: DbTarget, ctx: dict) -> dict:
    """Locking migrations ahead (now and after the planned purge) and, when a target schema is
    given, the full schema diff sized by the live tables."""
    req = request_from(ctx["request"])
    cutoff = min(datetime.fromisoformat(v) for v in ctx["cutoffs"].values())
    with connection(target) as conn:
        snap = snapshot(conn)
        purged = sorted({t for name in ctx["families"] for t in catalog.tables_of(catalog.family(name)) if snap.has_table(t)})
        sizes = schema_diff.table_sizes(conn)
        kept = upgrade.kept_fractions(conn, snap, purged, cutoff, sizes)
        result = upgrade.impact(conn, ctx["dify_version"], req.target_version, kept, sizes)
        result["kept_fractions"] = kept
        if req.target_schema:
            live = schema_diff.take(conn)
    if req.target_schema:
        changes = schema_diff.diff(live, schema_diff.load(target, req.target_schema))
        rates = upgrade.impact_data()["rates_mb_per_second"]
        result["schema_diff"] = schema_diff.summary(schema_diff.size(changes, sizes, rates))
    for line in upgrade.render_lines(result):
        log.info("%s", line)
    return result


def run_backup(target: DbTarget, store: StoreConfig, ctx: dict) -> dict:
    req = request_from(ctx["request"])
    if req.dry_run:
        return {"skipped": "dry run: nothing is backed up", "scope": req.backup_scope}
    if req.skip_backup:
        return {"skipped": "skipped by explicit request (skip_backup)"}
    return backup.create(target, store, req.backup_request())


def verify_backup(target: DbTarget, store: StoreConfig, ctx: dict, made: dict) -> dict:
    """The gate: the purge depends on this task, so a failed verification stops it."""
    if "skipped" in made:
        return {"gate": made["skipped"]}
    req = request_from(ctx["request"])
    result = backup.verify(target, store, made["backup_id"], restore_check=req.restore_check)
    return {"gate": "verified backup", **result}


def reclaim_tables(target: DbTarget, ctx: dict, results: list[dict]) -> dict:
    """Per purged table: measure, choose a strategy (with its reason), run it, measure again.
    A dry run runs nothing: it predicts the measurements the real run would take after its purge
    (the dry run's exact row counts, not an estimate by age) and chooses from those, so it names
    the strategy the real run picks."""
    req = request_from(ctx["request"])
    policy = from_dict(ctx["policy"])
    counter = "would_delete" if req.dry_run else "deleted"
    tables = retention.purged_tables(results, counter)
    rows_gone = {table: sum(int(r["tables"].get(table, {}).get(counter, 0)) for r in results) for table in tables}
    out: dict[str, dict] = {}
    with connection(target) as conn:
        caps = reclaim.capabilities(conn)
        for table in tables:
            # fresh planner statistics: the real run's purge left them stale; the dry run
            # predicts from the same footing the real run measures from
            execute(conn, "reclaim/analyze.sql", table=table)
            stats = reclaim.table_stats(conn, table, caps)
            if req.dry_run:
                stats = reclaim.predict_after_purge(stats, rows_gone[table])
            strategy, reason = reclaim.choose(
                conn,
                table,
                req.reclaim_strategy,
                stats,
                caps,
                disk_check=req.disk_check,
                min_bytes=req.reclaim_min_mb * 1024 * 1024,
            )
            out[table] = {"strategy": strategy, "reason": reason, "before": stats}
    for table, entry in out.items():
        if req.dry_run:
            entry["ran"] = False
            continue
        entry["timings"] = reclaim.run(
            target, table, entry["strategy"], lock_timeout_ms=policy.lock_timeout_ms, lock_retries=policy.lock_retries
        )
        with connection(target) as conn:
            entry["after"] = reclaim.table_stats(conn, table, caps)
        entry["ran"] = True
        log.info(
            "reclaim %s by %s: %.1f MB -> %.1f MB (%s)",
            table,
            entry["strategy"],
            entry["before"]["total_bytes"] / 1e6,
            entry["after"]["total_bytes"] / 1e6,
            entry["reason"],
        )
    return out


def analyze(target: DbTarget, ctx: dict, tables: list[str]) -> dict:
    """Fresh planner statistics for every table the run changed, before Dify's migrations plan against them."""
    if ctx["policy"]["dry_run"]:
        return {"analyzed": [], "note": "dry run"}
    with connection(target) as conn:
        for table in tables:
            execute(conn, "reclaim/analyze.sql", table=table)
    return {"analyzed": tables}


def impact_after(target: DbTarget, ctx: dict) -> dict:
    """The same migrations, sized by the tables as they are now that the run is done (measured)."""
    with connection(target) as conn:
        return upgrade.impact(conn, ctx["dify_version"], ctx["request"]["target_version"])


def render_lines(rep: dict) -> list[str]:
    """The pre-upgrade sections of the report, after the purge table."""
    lines = [""]
    impact = rep.get("impact") or {}
    if impact:
        lines.extend(upgrade.render_lines(impact))
        diff = impact.get("schema_diff")
        if diff:
            lines.append(f"schema diff against the target: {'matches' if diff['matches'] else diff['counts']}")
            lines.extend(f"  {c['line']}" for c in diff["changes"] if c["impact"] != schema_diff.METADATA)
    after = rep.get("impact_after_reclaim")
    if after and not rep.get("dry_run"):
        lines.append(f"measured after the purge and reclaim: writes blocked for about {after['seconds_locked_now']} s")
    made = rep.get("backup") or {}
    gate = rep.get("backup_verification") or {}
    ready = rep.get("backup_readiness")
    if ready and rep.get("dry_run"):
        free = ", ".join(f"{where} {n / 1e6:,.0f} MB free" for where, n in ready["free_bytes"].items() if n is not None)
        lines.append(
            f"a real run's backup: {ready['pg_dump']}; store {ready['store']} writable; up to "
            f"{ready['data_bytes_in_scope'] / 1e6:,.0f} MB of table data; {free}"
        )
    if "skipped" in made:
        lines.append(f"backup: {made['skipped']}")
    elif made:
        what = f"{made['scope']}, {made['total_bytes'] / 1e6:.1f} MB, {made['format_options']['compression']}"
        verdict = "ok" if gate.get("ok") else "FAILED or not run"
        lines.append(f"backup: {made['backup_id']} ({what}) in {made['store']}; verification: {verdict}")
    for table, entry in (rep.get("reclaim") or {}).items():
        after = entry.get("after")
        sizes = f"{entry['before']['total_bytes'] / 1e6:.1f} MB" + (
            f" -> {after['total_bytes'] / 1e6:.1f} MB" if after else " (not run)"
        )
        lines.append(f"reclaim {table}: {entry['strategy']} — {entry['reason']}; {sizes}")
    if rep.get("dry_run") and rep.get("database"):
        lines.append(f"dry run: nothing was changed. For the real run: dry_run off and confirm_database {rep['database']!r}")
    return lines
