"""Bad input gets a clear error before anything is deleted."""

from __future__ import annotations

import psycopg
import pytest
from airflow.sdk.exceptions import ParamValidationError
from airflow.utils.state import DagRunState

from dify_maintenance.core import policy
from dify_maintenance.core.errors import InvalidPolicy

GOOD_UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"workflow_logs_days": 0}, "workflow_logs_days must be between 1"),
        ({"messages_days": "30"}, "messages_days must be a whole number"),
        ({"end_users_days": 2.5}, "end_users_days must be a whole number"),
        ({"batch_size": 5}, "batch_size must be between"),
        ({"batch_size": 10_000_000}, "batch_size must be between"),
        ({"families": ["workflow_logs", "audit_logs"]}, "unknown table family 'audit_logs'"),
        ({"families": []}, "families must be a non-empty list"),
        ({"tenant_ids": ["not-a-uuid"]}, "tenant_ids holds malformed ids"),
        ({"app_ids": [GOOD_UUID], "exclude_app_ids": [GOOD_UUID]}, "both in app_ids and exclude_app_ids"),
        ({"surprise": 1}, "unknown policy key 'surprise'"),
    ],
)
def test_policy_rejects(override, message):
    with pytest.raises(InvalidPolicy, match=message):
        policy.validate(policy.merge(policy.load_defaults(), override))


def test_policy_layers_in_order():
    resolved = policy.resolve('{"messages_days": 60, "batch_size": 200}', {"batch_size": 300, "dry_run": None})
    assert (resolved.messages_days, resolved.batch_size, resolved.workflow_logs_days) == (60, 300, 30)
    with pytest.raises(InvalidPolicy, match="not valid JSON"):
        policy.resolve("{nope", {})


def dag_params_reject(run_dag, url, conf):
    with pytest.raises(ParamValidationError):
        run_dag("dify_retention", url, conf=conf)


@pytest.mark.parametrize(
    "conf",
    [{"workflow_logs_days": 0}, {"batch_size": 1}, {"families": ["nope"]}, {"tenant_ids": ["x"]}, {"messages_days": "ten"}],
)
def test_trigger_form_rejects_bad_params(conf, databases, run_dag):
    url = databases.fresh("1.14")
    dag_params_reject(run_dag, url, conf)


def failed_task(states, task_id="preflight"):
    return states[(task_id, -1)] == "failed"


def rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("select count(*) from workflow_node_executions").fetchone()[0]


def test_missing_connection_fails_preflight(databases, run_dag, tmp_path):
    url = databases.fresh("1.14")
    before = rows(url)
    dr, _, states = run_dag("dify_retention", None, archive_root=tmp_path / "a")
    assert dr.state == DagRunState.FAILED and failed_task(states)
    assert rows(url) == before


def test_wrong_connection_fails_preflight(databases, run_dag, tmp_path):
    url = databases.fresh("1.14")
    wrong = psycopg.conninfo.make_conninfo(url, dbname="no_such_database_here")
    dr, _, states = run_dag("dify_retention", wrong, archive_root=tmp_path / "a")
    assert dr.state == DagRunState.FAILED and failed_task(states)


def test_not_dify_database_fails_preflight(databases, run_dag, tmp_path):
    url = databases.fresh(empty=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table orders (id int primary key)")
    dr, _, states = run_dag("dify_retention", url, archive_root=tmp_path / "a")
    assert dr.state == DagRunState.FAILED and failed_task(states)


def test_two_alembic_heads_are_an_ambiguous_version(databases):
    """A supported head plus a second row (a half-applied merge, a hand edit) is refused: the
    schema could be either version's."""
    from dify_maintenance.core.db import connection, url_connector
    from dify_maintenance.core.errors import UnsupportedDifyVersion
    from dify_maintenance.core.schema import detect_version, snapshot

    url = databases.fresh("1.14")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("insert into alembic_version (version_num) values ('ffffffffffff')")
    with connection(url_connector(url)) as conn, pytest.raises(UnsupportedDifyVersion, match="ambiguous"):
        detect_version(conn, snapshot(conn))


def test_unknown_dify_version_with_a_new_reference_fails_preflight(databases, run_dag, tmp_path):
    """An unknown head goes through the schema-drift guard: a new table naming workflow runs stops
    the run before anything is deleted (without one the run goes on: tests/test_real_dumps.py)."""
    url = databases.fresh("1.14")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("update alembic_version set version_num = 'ffffffffffff'")
        conn.execute("create table run_annotations (id uuid primary key, workflow_run_id uuid, created_at timestamp)")
    before = rows(url)
    dr, xcoms, states = run_dag("dify_retention", url, conf={"dry_run": False}, archive_root=tmp_path / "a")
    assert dr.state == DagRunState.FAILED and failed_task(states)
    assert rows(url) == before
    assert "run_annotations.workflow_run_id (names workflow_runs)" in xcoms["errors"]["preflight"]


def test_unreachable_archive_store_stops_before_purge(databases, run_dag, tmp_path):
    url = databases.fresh("1.14")
    before = rows(url)
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the archive folder should be")
    dr, _, states = run_dag("dify_retention", url, conf={"dry_run": False}, archive_root=blocked)
    assert dr.state == DagRunState.FAILED
    assert states[("archive_gate", -1)] == "failed"
    assert all(state != "success" for (task, _), state in states.items() if task.startswith("purge"))
    assert rows(url) == before
    with psycopg.connect(url) as conn:  # the report task released the claim and recorded the failure
        assert conn.execute("select count(*) from dify_maintenance.claim").fetchone()[0] == 0
        assert conn.execute("select outcome from dify_maintenance.history").fetchone()[0] == "failed"


def test_a_worker_local_archive_under_a_distributed_executor_is_refused(databases, run_dag, monkeypatch, tmp_path):
    """No archive connection means a folder on the worker; under Celery (or Kubernetes) that
    folder leaves with the worker, so the run stops before anything is deleted, unless the
    deployment declares the folder shared."""
    import json

    url = databases.fresh("1.14")
    monkeypatch.delenv("AIRFLOW_CONN_DIFY_ARCHIVE", raising=False)
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    with psycopg.connect(url) as conn:
        before = conn.execute("SELECT count(*) FROM workflow_runs").fetchone()[0]
    dr, xcoms, states = run_dag("dify_retention", url, conf={"dry_run": False, "families": ["workflow_logs"]})
    assert dr.state == DagRunState.FAILED, states
    errors = " ".join(xcoms["errors"].values())
    assert "no Airflow connection 'dify_archive'" in errors and "CeleryExecutor" in errors and "local_stores_shared" in errors
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM workflow_runs").fetchone()[0] == before

    monkeypatch.setenv(
        "AIRFLOW_VAR_DIFY_MAINTENANCE_POLICY", json.dumps({"local_stores_shared": True, "first_run_dry_run": False})
    )
    dr, xcoms, states = run_dag("dify_retention", url, conf={"dry_run": False, "families": ["workflow_logs"]})
    assert dr.state == DagRunState.SUCCESS, states
    assert xcoms["report"]["total_deleted"] > 0
