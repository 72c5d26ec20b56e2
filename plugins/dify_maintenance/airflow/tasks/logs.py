"""The tasks of ``dify_log_migration``, ``dify_log_cleanup_pg`` and ``dify_log_index_retention``;
cleanup-pg's purge tasks are the retention DAG's own (with the proof its preflight set up)."""

from __future__ import annotations

import logging

from airflow.sdk import TriggerRule, Variable, get_current_context

from dify_maintenance.airflow.tasks.common import (
    connector_for,
    current_settings,
    fail_fast,
    label,
    mapped_results,
    run_errors,
    run_moment,
    run_params,
    scheduled_params,
    task,
)
from dify_maintenance.airflow.tasks.lifecycle import end_run
from dify_maintenance.airflow.tasks.log_cluster import cluster_of, lazy_reader, storage_of
from dify_maintenance.core import runs
from dify_maintenance.core.moments import naive_utc
from dify_maintenance.core.policy import POLICY_VARIABLE
from dify_maintenance.logstore import cleanup, indices, migrate, report, validate
from dify_maintenance.logstore.cluster import health, identify
from dify_maintenance.logstore.forms import LOG_INDEX_RETENTION_FORM, LOG_MIGRATION_FORM
from dify_maintenance.logstore.migrate import Request

log = logging.getLogger(__name__)

# Scheduled index-retention runs are dry runs; this Variable (a JSON object of the form's fields,
# e.g. {"dry_run": false, "confirm_cluster": "<cluster name>"}) makes them real.
INDEX_RETENTION_VARIABLE = "dify_maintenance_log_index_retention"


def _form() -> dict:
    return LOG_MIGRATION_FORM.checked(run_params(), "log-migration")


def _run_key() -> str:
    dag_run = get_current_context()["dag_run"]
    return runs.run_key(dag_run.dag_id, dag_run.run_id)


@task
@fail_fast
def plan() -> dict:
    """Check the form, reach the cluster (what it is, whether Dify can read it) and the database,
    and size the work per data type and month."""
    form = _form()
    cluster = cluster_of(form)
    client = cluster.client()
    info = identify(client, cluster)
    connector = connector_for(current_settings())
    req = migrate.request_from(form, cluster, migrate.database_now(connector))
    found = migrate.plan(connector, req, client, cluster, info)
    found["health"] = health(client, cluster)
    if found["offloaded_files"] and not req.dry_run:
        storage_of(form, current_settings().storage_conn_id)  # a missing storage fails here, before any document is sent
    found["run_key"] = _run_key()
    for line in report.plan_lines(found):
        log.info("%s", line)
    return found


@task
@fail_fast
def partitions_of(planned: dict) -> list[dict]:
    """One migrate task per data type and month (none for a dry run)."""
    return [] if planned["dry_run"] else planned["partitions"]


# one month at a time: the form's concurrency is the run's number of requests in flight
@task(map_index_template="{{ family_label }}", retries=3, max_active_tis_per_dagrun=1)
@fail_fast
def migrate_month(partition: dict, planned: dict) -> dict:
    """Stream one data type's month into the cluster, then rewrite what is missing or changed
    behind its watermark; a retry or a rerun resumes from the watermark."""
    label(f"{partition['data_type']} {partition['month']}")
    form = _form()
    cluster = cluster_of(form)
    client = cluster.client()
    req = Request.from_dict(planned["request"])
    reader = lazy_reader(form, current_settings().storage_conn_id)
    return migrate.migrate_partition(
        connector_for(current_settings()), client, cluster, req, partition, reader, info=identify(client, cluster)
    )


@task(trigger_rule=TriggerRule.NONE_FAILED)
@fail_fast
def validate_window(planned: dict, migrated: list[dict]) -> dict:
    """Every row of the window against its document in the cluster; the verdict is recorded."""
    if planned["dry_run"]:
        return {"skipped": "dry run"}
    form = _form()
    cluster = cluster_of(form)
    client = cluster.client()
    return validate.validate(
        connector_for(current_settings()),
        client,
        cluster,
        Request.from_dict(planned["request"]),
        lazy_reader(form, current_settings().storage_conn_id),
        run_key=planned["run_key"],
        info=identify(client, cluster),
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
    cluster = cluster_of(_form())
    return indices.status(connector_for(current_settings()), cluster.client(), cluster, planned["request"]["prefix"])


@task(task_id="report", trigger_rule=TriggerRule.ALL_DONE)
@fail_fast
def report_migration() -> dict:
    """The plan, what each stream wrote, rejected documents by id, the validation; into history
    and the run's note."""
    ti = get_current_context()["ti"]
    planned = ti.xcom_pull(task_ids="plan")
    streams = [r for r in mapped_results(ti.xcom_pull(task_ids="migrate_month") or []) if r]
    checked = ti.xcom_pull(task_ids="validate_window")
    rep = report.migration_report(planned, streams, checked, run_errors())
    rep["status"] = ti.xcom_pull(task_ids="status")
    lines = report.migration_lines(rep)
    end_run(report.TITLE, rep, lines[1:], began=False, create_schema=planned is not None, note_lines=report.note_lines(rep))
    return {k: rep[k] for k in ("outcome", "dry_run", "documents_written", "rejected", "validation")}


# ---------------------------------------------------------------- cleanup-pg


@task(task_id="preflight")
@fail_fast
def cleanup_preflight() -> dict:
    """The typed confirmations and the date, whether Dify reads the cluster, the newest validation
    of that cluster, then the purge's preflight; the purge tasks prove each batch's rows."""
    values = run_params()
    req = cleanup.request_from(values)
    policy = cleanup.policy_for(req, Variable.get(POLICY_VARIABLE, default=None))
    cluster = cluster_of(values)
    client = cluster.client()
    dag_run = get_current_context()["dag_run"]
    source = {k: values.get(k) for k in ("cluster_conn_id", "dify_env", "storage_conn_id")}
    return cleanup.preflight(
        connector_for(policy),
        req,
        policy,
        identify(client, cluster),
        cluster,
        source,
        dag_id=dag_run.dag_id,
        run_id=dag_run.run_id,
        logical_date=run_moment(dag_run),
    )


# ---------------------------------------------------------------- index retention


@task
@fail_fast
def drop_expired_indices() -> dict:
    """Drop whole monthly indices older than the retention (the guide's ELASTICSEARCH_RETENTION_DAYS):
    a dry run unless the form (or, for a scheduled run, the Variable) asks for a real one with the
    cluster's name typed."""
    params = LOG_INDEX_RETENTION_FORM.checked(scheduled_params(INDEX_RETENTION_VARIABLE), "index-retention")
    cluster = cluster_of(params)
    client = cluster.client()
    info = identify(client, cluster)
    indices.check_confirmation(params, info)
    moment = naive_utc(run_moment(get_current_context()["dag_run"]))
    result = indices.drop_expired(
        client,
        cluster,
        params.get("index_prefix") or cluster.index_prefix,
        moment,
        params.get("retention_days") or cluster.retention_days,
        params["dry_run"],
    )
    result["cluster"] = info.describe()
    return result


@task(task_id="report", trigger_rule=TriggerRule.ALL_DONE)
@fail_fast
def report_index_retention() -> dict:
    """What went (or would go), into history and the run's note."""
    ti = get_current_context()["ti"]
    dropped = ti.xcom_pull(task_ids="drop_expired_indices")
    rep = indices.retention_report(dropped, run_errors())
    lines = indices.retention_lines(rep)
    end_run(indices.RETENTION_TITLE, rep, lines, began=False, create_schema=True, note_lines=indices.retention_note_lines(rep))
    return {k: rep[k] for k in ("outcome", "dry_run", "indices", "documents")}
