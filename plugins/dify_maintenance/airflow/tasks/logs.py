"""The tasks of ``dify_log_migration``, ``dify_log_cleanup_pg`` and ``dify_log_index_retention``;
cleanup-pg's purge tasks are the retention DAG's own."""

from __future__ import annotations

import logging

from airflow.sdk import TriggerRule, Variable, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from dify_maintenance.airflow import connections
from dify_maintenance.airflow.tasks.common import (
    connector_for,
    current_policy,
    fail_fast,
    label,
    mapped_results,
    publish_summary,
    run_errors,
    run_moment,
    run_params,
)
from dify_maintenance.core import state
from dify_maintenance.core.db import connection
from dify_maintenance.core.policy import POLICY_VARIABLE
from dify_maintenance.files.stores import StoreConfig
from dify_maintenance.logstore import cleanup, indices, migrate, report, validate
from dify_maintenance.logstore.cluster import ClusterConfig, health
from dify_maintenance.logstore.indices import LOG_INDEX_RETENTION_FORM
from dify_maintenance.logstore.migrate import LOG_MIGRATION_FORM, Request
from dify_maintenance.logstore.reader import Fetch

log = logging.getLogger(__name__)


def _form() -> dict:
    return LOG_MIGRATION_FORM.checked(run_params(), "log-migration")


def _cluster(form: dict) -> ClusterConfig:
    return connections.log_store(form.get("cluster_conn_id"), form.get("dify_env"))


def _storage(form: dict) -> StoreConfig:
    if form.get("dify_env"):
        return connections.dify_storage(dify_env_file=form["dify_env"])
    return connections.dify_storage(conn_id=form.get("storage_conn_id") or current_policy().storage_conn_id)


def _reader(form: dict, needed: bool) -> Fetch | None:
    """Reads offloaded payloads from Dify's storage; only resolved when there are any."""
    if not needed:
        return None
    op = _storage(form).operator()
    return lambda key: bytes(op.read(key))


def _request(form: dict, cluster: ClusterConfig) -> Request:
    return migrate.request_from(form, cluster, run_moment(get_current_context()["dag_run"]))


@task
@fail_fast
def plan() -> dict:
    """Check the form, reach the cluster and the database, and size the work per data type and month."""
    form = _form()
    cluster = _cluster(form)
    req = _request(form, cluster)
    client = cluster.client()
    found = migrate.plan(connector_for(current_policy()), req, client, cluster)
    found["health"] = health(client, cluster)
    if found["offloaded_files"] and not req.dry_run:
        _storage(form)  # a missing storage fails here, before any document is sent
    dag_run = get_current_context()["dag_run"]
    found["run_key"] = f"{dag_run.dag_id}/{dag_run.run_id}"
    for line in report.plan_lines(found):
        log.info("%s", line)
    return found


@task
@fail_fast
def partitions_of(planned: dict) -> list[dict]:
    """One migrate task per data type and month (none for a dry run)."""
    return [] if planned["dry_run"] else planned["partitions"]


@task(map_index_template="{{ family_label }}", retries=3)
@fail_fast
def migrate_month(partition: dict, planned: dict) -> dict:
    """Stream one data type's month into the cluster; a retry or a rerun resumes from the watermark."""
    label(f"{partition['data_type']} {partition['month']}")
    form = _form()
    cluster = _cluster(form)
    req = Request.from_dict(planned["request"])
    reader = _reader(form, planned["offloaded_files"] > 0 and partition["data_type"] == "node_executions")
    return migrate.migrate_partition(connector_for(current_policy()), cluster.client(), cluster, req, partition, reader)


@task(trigger_rule=TriggerRule.NONE_FAILED)
@fail_fast
def validate_window(planned: dict, migrated: list[dict]) -> dict:
    """Counts per index, every id present, a sample compared field by field; the verdict is recorded."""
    if planned["dry_run"]:
        return {"skipped": "dry run"}
    form = _form()
    cluster = _cluster(form)
    req = Request.from_dict(planned["request"])
    return validate.validate(
        connector_for(current_policy()),
        cluster.client(),
        cluster,
        req,
        _reader(form, planned["offloaded_files"] > 0),
        run_key=planned["run_key"],
        moment=run_moment(get_current_context()["dag_run"]),
    )


@task(trigger_rule=TriggerRule.ALL_DONE, retries=0)
@fail_fast
def status() -> dict:
    """What the guide's ``status`` shows: per tenant and data type, rows in PostgreSQL, documents
    in the cluster and what is left; every stream's watermark; the cluster's health. Also after
    a failed migration (that is when it matters); not when the plan never ran."""
    planned = get_current_context()["ti"].xcom_pull(task_ids="plan")
    if not planned:
        return {"skipped": "the plan did not complete"}
    form = _form()
    cluster = _cluster(form)
    return indices.status(connector_for(current_policy()), cluster.client(), cluster, planned["request"]["prefix"])


@task(trigger_rule=TriggerRule.ALL_DONE)
@fail_fast
def report_migration() -> dict:
    """The plan, what each stream wrote, rejected documents by id, the validation; into history."""
    ti = get_current_context()["ti"]
    dag_run = get_current_context()["dag_run"]
    planned = ti.xcom_pull(task_ids="plan")
    streams = [r for r in mapped_results(ti.xcom_pull(task_ids="migrate_month") or []) if r]
    checked = ti.xcom_pull(task_ids="validate_window")
    rep = report.migration_report(planned, streams, checked, run_errors())
    rep["status"] = ti.xcom_pull(task_ids="status")
    rep.update({"run_key": f"{dag_run.dag_id}/{dag_run.run_id}", "dag_id": dag_run.dag_id})
    text = "\n".join(report.migration_lines(rep))
    log.info("\n%s", text)
    _record(rep, planned)
    publish_summary(report.note(rep))
    if rep["outcome"] == "failed":
        raise AirflowFailException(f"log migration failed: {rep['error']}")
    return {k: rep[k] for k in ("outcome", "dry_run", "documents_created", "documents_existing", "rejected", "validation")}


def _record(rep: dict, planned: dict | None) -> None:
    """Into the history table; a run whose plan failed writes only where our schema exists."""
    try:
        connector = connector_for(current_policy())
        if planned is None:
            state.record_failure(connector, rep)
            return
        with connection(connector) as conn:
            state.append_history(conn, run_key=rep["run_key"], dag_id=rep["dag_id"], outcome=rep["outcome"], report=rep)
    except Exception as exc:  # the database may be what failed; the log and the note still say it
        log.warning("could not record the run in the history table: %s", type(exc).__name__)


# ---------------------------------------------------------------- cleanup-pg


@task(task_id="preflight")
@fail_fast
def cleanup_preflight() -> dict:
    """The typed confirmation, a passing validation covering the request, then the purge's preflight."""
    req = cleanup.request_from(run_params())
    policy = cleanup.policy_for(req, Variable.get(POLICY_VARIABLE, default=None))
    dag_run = get_current_context()["dag_run"]
    return cleanup.preflight(
        connector_for(policy), req, policy, dag_id=dag_run.dag_id, run_id=dag_run.run_id, logical_date=run_moment(dag_run)
    )


# ---------------------------------------------------------------- index retention


@task
@fail_fast
def drop_expired_indices() -> dict:
    """Drop whole monthly indices older than the retention (the guide's ELASTICSEARCH_RETENTION_DAYS)."""
    params = LOG_INDEX_RETENTION_FORM.checked(run_params(), "index-retention")
    cluster = connections.log_store(params.get("cluster_conn_id"), params.get("dify_env"))
    days = params.get("retention_days") or cluster.retention_days
    prefix = params.get("index_prefix") or cluster.index_prefix
    moment = run_moment(get_current_context()["dag_run"]).replace(tzinfo=None)
    result = indices.drop_expired(cluster.client(), cluster, prefix, moment, days, params["dry_run"])
    log.info("%s", result)
    return result
