"""The tasks of ``dify_pre_upgrade_cleanup``; the purge tasks are the retention DAG's own."""

from __future__ import annotations

import logging

from airflow.sdk import TriggerRule, Variable, get_current_context

from dify_maintenance.airflow.tasks.common import (
    backup_store,
    connector_for,
    deletion_store,
    fail_fast,
    mapped_results,
    recorded_policy,
    run_errors,
    run_moment,
    run_params,
    task,
)
from dify_maintenance.airflow.tasks.lifecycle import end_run, preflight_context
from dify_maintenance.core.policy import POLICY_VARIABLE
from dify_maintenance.database import preupgrade
from dify_maintenance.retention import report as report_mod
from dify_maintenance.retention.verify import verify as verify_run

log = logging.getLogger(__name__)


@task
@fail_fast
def preflight() -> dict:
    """Validate the form (typed confirmation included), detect Dify, claim the database, fix the cutoff."""
    context = get_current_context()
    req = preupgrade.request_from(run_params())
    policy = preupgrade.policy_for(req, Variable.get(POLICY_VARIABLE, default=None))
    dag_run = context["dag_run"]
    return preupgrade.preflight(
        connector_for(policy),
        req,
        policy,
        dag_id=dag_run.dag_id,
        run_id=dag_run.run_id,
        logical_date=run_moment(dag_run),
        backup_store=backup_store(),
    )


@task
@fail_fast
def current_version(ctx: dict) -> dict:
    """Where the database stands: Dify version, alembic head, tables and size."""
    return preupgrade.current_version(connector_for(recorded_policy(ctx)), ctx)


@task
@fail_fast
def upgrade_impact(ctx: dict, version: dict) -> dict:
    """Migrations ahead that rewrite or lock big tables, now and after the planned purge."""
    return preupgrade.upgrade_impact(connector_for(recorded_policy(ctx)), ctx)


@task(retries=0)
@fail_fast
def backup(ctx: dict, impact: dict) -> dict:
    """pg_dump (directory format, parallel) stored with a sha256 manifest."""
    return preupgrade.run_backup(connector_for(recorded_policy(ctx)), backup_store(), ctx)


@task(retries=0)
@fail_fast
def verify_backup(ctx: dict, made: dict) -> dict:
    """The gate: every purge task depends on this one, so a backup that does not verify stops the run."""
    return preupgrade.verify_backup(connector_for(recorded_policy(ctx)), backup_store(), ctx, made)


@task
@fail_fast
def verify_purge(ctx: dict, first: list[dict], second: list[dict]) -> dict:
    """The retention invariants: nothing purgeable left, no orphans, archive complete."""
    policy = recorded_policy(ctx)
    results = mapped_results(first, second)
    checks = verify_run(connector_for(policy), ctx, policy, results, deletion_store(policy))
    return {"results": results, "verify": checks}


@task(retries=0)
@fail_fast
def reclaim(ctx: dict, purged: dict) -> dict:
    """Give the space back, table by table, with the strategy chosen (and why) for each."""
    return preupgrade.reclaim_tables(connector_for(recorded_policy(ctx)), ctx, purged["results"])


@task
@fail_fast
def analyze(ctx: dict, reclaimed: dict) -> dict:
    """Fresh statistics on every changed table."""
    return preupgrade.analyze(connector_for(recorded_policy(ctx)), ctx, list(reclaimed))


@task(trigger_rule=TriggerRule.ALL_DONE)
@fail_fast
def report() -> dict:
    """The whole story in one place; runs even after a failure, releases the claim, then fails too."""
    ti = get_current_context()["ti"]
    title = report_mod.TITLES["dify_pre_upgrade_cleanup"]
    ctx = preflight_context(ti, "nothing was claimed, backed up or deleted", title)
    pulled = {
        name: ti.xcom_pull(task_ids=name)
        for name in ("current_version", "upgrade_impact", "backup", "verify_backup", "verify_purge", "reclaim", "analyze")
    }
    purged = pulled["verify_purge"] or {}
    outcome = "success" if pulled["analyze"] is not None else "failed"
    gate = {"archive": "on" if ctx["policy"]["archive"] else "off (the verified backup is the safety net)"}
    sizes = {
        table: {"bytes_before": entry["before"]["total_bytes"], "bytes_after": (entry.get("after") or {}).get("total_bytes")}
        for table, entry in (pulled["reclaim"] or {}).items()
    }
    rep = report_mod.build(ctx, {}, gate, purged.get("results", []), sizes, purged.get("verify"), outcome, run_errors())
    rep.update(
        {
            "target_version": ctx["request"]["target_version"],
            "database": ctx["database"],
            "backup_readiness": ctx.get("backup_readiness"),
            "impact": pulled["upgrade_impact"],
            "backup": pulled["backup"],
            "backup_verification": pulled["verify_backup"],
            "reclaim": pulled["reclaim"],
        }
    )
    rep["impact_after_reclaim"] = (
        preupgrade.impact_after(connector_for(recorded_policy(ctx)), ctx) if outcome == "success" else None
    )
    lines = [*report_mod.render_text(rep, title).splitlines(), *preupgrade.render_lines(rep)]
    end_run(title, rep, lines, began=True, where=recorded_policy(ctx), note=report_mod.note_text(rep, title))
    return {k: rep[k] for k in ("outcome", "dry_run", "dify_version", "target_version", "total_deleted", "total_would_delete")}
