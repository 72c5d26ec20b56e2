"""The task of ``dify_table_sizes``."""

from __future__ import annotations

from airflow.sdk import TriggerRule, get_current_context

from dify_maintenance.airflow.tasks.common import connector_for, current_settings, fail_fast, run_params, task
from dify_maintenance.airflow.tasks.lifecycle import end_run
from dify_maintenance.database import sizes


@task
@fail_fast
def snapshot() -> dict:
    """Every table's size and row estimates now; snapshots older than a year go."""
    run_params()  # no form: a conf key fails the run instead of being ignored
    return sizes.snapshot(connector_for(current_settings()))


@task(trigger_rule=TriggerRule.ALL_DONE)
@fail_fast
def report() -> dict:
    """How many tables were measured, into the history and the run's note."""
    taken = get_current_context()["ti"].xcom_pull(task_ids="snapshot")
    rep = {"outcome": "success" if taken is not None else "failed", "snapshot": taken or {}}
    lines = [", ".join(f"{k} {v}" for k, v in (taken or {}).items() if not isinstance(v, dict | list))] if taken else []
    end_run("Dify table sizes", rep, lines or ["no snapshot taken"], began=False, create_schema=taken is not None)
    return rep["snapshot"]
