"""The DAG files parse, and carry the scheduling and safety settings operators rely on."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import Param

from dify_maintenance.params import retention_params

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bag():
    return DagBag(dag_folder=str(ROOT / "dags"))


def test_no_import_errors(bag):
    assert bag.import_errors == {}
    assert {"dify_retention", "dify_restore_archive"} <= set(bag.dags)


def test_retention_schedule_and_safety(bag):
    dag = bag.dags["dify_retention"]
    assert dag.timetable.expression == "0 3 * * 0"
    assert dag.catchup is False and dag.max_active_runs == 1
    assert dag.dagrun_timeout is not None
    assert dag.deadline and len(dag.deadline) == 1
    assert {"dify", "maintenance"} <= set(dag.tags)
    assert dag.default_args["retries"] >= 2 and dag.default_args["retry_exponential_backoff"] == 2.0
    assert dag.default_args["on_failure_callback"] is not None
    assert dag.doc_md


def test_retention_task_order(bag):
    dag = bag.dags["dify_retention"]
    down = {t.task_id: t.downstream_task_ids for t in dag.tasks}
    assert "plan" in down["preflight"]
    assert "archive_gate" in down["plan"]
    assert "independent_families" in down["archive_gate"]
    assert "vacuum" in down["purge"] and "vacuum" in down["purge_after"]
    assert "verify" in down["vacuum"]
    assert "report" in down["verify"]
    assert dag.get_task("report").trigger_rule == "all_done"


def test_param_defaults_are_valid_and_mean_use_the_policy():
    for name, param in retention_params().items():
        assert isinstance(param, Param)
        assert param.resolve(None) is None, name


def test_restore_dag_is_manual_only(bag):
    dag = bag.dags["dify_restore_archive"]
    assert type(dag.timetable).__name__ == "NullTimetable"
    assert list(dag.allowed_run_types) == ["manual"]
