"""The tasks of ``dify_retention``; the DAG file only wires them together."""

from __future__ import annotations

import dataclasses
import logging
from datetime import timedelta

from airflow.sdk import TriggerRule, get_current_context

from dify_maintenance.airflow import connections
from dify_maintenance.airflow.tasks import log_cluster
from dify_maintenance.airflow.tasks.common import (
    archive_store,
    connector_for,
    current_policy,
    deletion_store,
    fail_fast,
    label,
    mapped_results,
    recorded_policy,
    run_errors,
    run_moment,
    run_params,
    stop_switch,
    task,
)
from dify_maintenance.airflow.tasks.lifecycle import end_run, preflight_context
from dify_maintenance.core.catalog import family as family_def
from dify_maintenance.files import orphans
from dify_maintenance.retention import report as report_mod
from dify_maintenance.retention import steps as retention
from dify_maintenance.retention.verify import verify as verify_run

log = logging.getLogger(__name__)


@task
@fail_fast
def preflight() -> dict:
    """Validate the policy, detect Dify, check tables and indexes, claim the database, fix the cutoffs."""
    form = run_params()
    policy = current_policy(form)
    dag_run = get_current_context()["dag_run"]
    return retention.preflight(
        connector_for(policy),
        policy,
        dag_id=dag_run.dag_id,
        run_id=dag_run.run_id,
        logical_date=run_moment(dag_run),
        first_run_guard=form.get("dry_run") is None,
    )


@task
@fail_fast
def plan(ctx: dict) -> dict:
    """Expired rows per root and bytes per table, with the walk chosen for each root."""
    policy = recorded_policy(ctx)
    return retention.plan(connector_for(policy), ctx, policy)


@task
@fail_fast
def archive_gate(ctx: dict, plan_result: dict) -> dict:
    """Prove the archive store works before anything is deleted (unless archive is explicitly off)."""
    policy = recorded_policy(ctx)
    store = archive_store(policy) if policy.archive else None
    return retention.archive_gate(policy, store)


@task
@fail_fast
def independent_families(ctx: dict, gate: dict) -> list[str]:
    """Families that depend on no other family's purge; purged in parallel."""
    return [name for name in ctx["families"] if not family_def(name).after]


@task
@fail_fast
def dependent_families(ctx: dict, gate: dict) -> list[str]:
    """Families that must wait (end users are purged after what refers to them)."""
    return [name for name in ctx["families"] if family_def(name).after]


_PURGE_RETRIES = {"retries": 3, "retry_delay": timedelta(seconds=30), "retry_exponential_backoff": 2.0}


def _purge_one(family: str, ctx: dict) -> dict:
    label(family)
    policy = recorded_policy(ctx)
    proof = log_cluster.proof_for(ctx, policy.storage_conn_id) if not policy.dry_run else None
    return retention.run_purge(connector_for(policy), ctx, family, policy, deletion_store(policy), stop_switch, proof)


@task(map_index_template="{{ family_label }}", **_PURGE_RETRIES)
@fail_fast
def purge(family: str, ctx: dict) -> dict:
    """Purge one family in short batches; a retry resumes from the last committed batch."""
    return _purge_one(family, ctx)


@task(map_index_template="{{ family_label }}", trigger_rule=TriggerRule.NONE_FAILED, **_PURGE_RETRIES)
@fail_fast
def purge_after(family: str, ctx: dict, before: list[dict]) -> dict:
    """Purge a family that must follow the others (its keep rules read what they left).
    It also runs when the run has no other family (``purge`` then maps to nothing and is skipped)."""
    return _purge_one(family, ctx)


@task(trigger_rule=TriggerRule.NONE_FAILED)
@fail_fast
def vacuum(ctx: dict, first: list[dict], second: list[dict]) -> dict:
    """VACUUM (ANALYZE) every table the purge deleted from, one autocommit statement each."""
    policy = recorded_policy(ctx)
    results = mapped_results(first, second)
    return {
        "results": results,
        "vacuum": retention.vacuum(connector_for(policy), retention.purged_tables(results), policy.dry_run),
    }


@task
@fail_fast
def verify(ctx: dict, purged: dict) -> dict:
    """Fail loudly unless the invariants hold."""
    policy = recorded_policy(ctx)
    return verify_run(connector_for(policy), ctx, policy, purged["results"], deletion_store(policy))


@task
@fail_fast
def collect_files(ctx: dict, verified: dict) -> dict:
    """With the policy's ``collect_files``: the files that only the purged rows referenced are
    collected by the orphaned-files mechanism (grace period, archive, quarantine), limited to
    files created before the newest cutoff. Off by default."""
    policy = recorded_policy(ctx)
    if not policy.collect_files:
        return {"skipped": "collect_files is off"}
    dag_run = get_current_context()["dag_run"]
    req = orphans.request_from({"dry_run": policy.dry_run, "archive": policy.archive, "storage_conn_id": policy.storage_conn_id})
    # limited to files created before the newest cutoff, as preflight recorded it (naive UTC, as
    # Dify stores its dates): no trip through the form's RFC 3339 text
    req = dataclasses.replace(req, created_before=max(ctx["cutoffs"].values()))
    rep = orphans.run_all(
        connector_for(policy),
        connections.dify_storage(conn_id=policy.storage_conn_id),
        archive_store(policy),
        req,
        dag_id=dag_run.dag_id,
        run_id=f"{dag_run.run_id}.files",
        claim_key=None if policy.dry_run else ctx["run_key"],
        now=run_moment(dag_run),
    )
    log.info("\n%s", "\n".join(orphans.render_lines(rep)))
    return rep


@task(trigger_rule=TriggerRule.ALL_DONE)
@fail_fast
def report() -> dict:
    """Print the readable report, append it to history and release the database.

    Runs even when something upstream failed, so the claim is always released and the history
    says "failed" (with the first error) rather than nothing; the task itself then fails too, so
    the run is red. The summary also becomes the run's note.
    """
    ti = get_current_context()["ti"]
    title = report_mod.TITLES.get(get_current_context()["dag_run"].dag_id, report_mod.TITLES["dify_retention"])
    ctx = preflight_context(ti, "nothing was claimed or deleted", title)
    plan_result = ti.xcom_pull(task_ids="plan") or {}
    gate = ti.xcom_pull(task_ids="archive_gate") or {}
    purged = ti.xcom_pull(task_ids="vacuum") or {}
    verified = ti.xcom_pull(task_ids="verify")
    files = ti.xcom_pull(task_ids="collect_files")
    outcome = "success" if purged and verified and files else "failed"
    policy = recorded_policy(ctx)
    rep = report_mod.build(
        ctx, plan_result, gate, purged.get("results", []), purged.get("vacuum", {}), verified, outcome, run_errors()
    )
    rep["indexes_dropped"] = retention.drop_built_indexes(connector_for(policy), policy)
    if files and "skipped" not in files:
        rep["files"] = files
        rep["files_lines"] = orphans.render_lines(files)
    end_run(title, rep, report_mod.render_text(rep).splitlines(), began=True, where=policy, note=report_mod.note_text(rep))
    return {k: rep[k] for k in ("outcome", "dry_run", "dify_version", "total_deleted", "total_would_delete", "cutoffs")}
