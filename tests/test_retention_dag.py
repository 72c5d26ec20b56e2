"""The weekly retention DAG, run for real through Airflow on generated Dify data."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from airflow.utils.state import DagRunState
from conftest import ANCHOR

WORKFLOW_CUTOFF = ANCHOR - timedelta(days=30)


def count(url: str, sql: str, params=None) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()[0]


def checksum(url: str, table: str, where: str, params=None) -> str:
    """An order-independent fingerprint of the rows a condition selects."""
    with psycopg.connect(url) as conn:
        query = f"select coalesce(md5(string_agg(md5(t::text), '' order by md5(t::text))), '') from {table} t where {where}"
        return conn.execute(query, params).fetchone()[0]


@pytest.mark.parametrize("generation", ["1.14", "0.15"])
def test_retention_runs_green_and_purges(generation, databases, run_dag, tmp_path):
    url = databases.fresh(generation)
    runs_before = count(url, "select count(*) from workflow_runs")
    newer = "created_at >= %s"
    newer_nodes = checksum(url, "workflow_node_executions", newer, [WORKFLOW_CUTOFF])
    newer_runs = checksum(url, "workflow_runs", newer, [WORKFLOW_CUTOFF])
    in_flight = count(url, "select count(*) from workflow_runs where status in ('running', 'paused')")

    dr, xcoms, states = run_dag("dify_retention", url, archive_root=tmp_path / "arch")

    assert dr.state == DagRunState.SUCCESS, states
    summary = xcoms["report"]
    assert summary["outcome"] == "success"
    assert summary["total_deleted"] > 0
    assert count(url, "select count(*) from workflow_runs") < runs_before
    # rows newer than the cutoff are untouched, byte for byte
    assert checksum(url, "workflow_node_executions", newer, [WORKFLOW_CUTOFF]) == newer_nodes
    assert checksum(url, "workflow_runs", newer, [WORKFLOW_CUTOFF]) == newer_runs
    # runs still in flight are never purged, however old
    assert count(url, "select count(*) from workflow_runs where status in ('running', 'paused')") == in_flight
    assert count(url, "select count(*) from workflow_runs where created_at < %s and status = 'succeeded'", [WORKFLOW_CUTOFF]) == 0
    assert count(url, "select count(*) from dify_maintenance.history where outcome = 'success'") == 1
    assert count(url, "select count(*) from dify_maintenance.claim") == 0


def test_dry_run_changes_nothing(databases, run_dag, tmp_path):
    url = databases.fresh("1.14")
    before = {
        t: checksum(url, t, "true")
        for t in ("workflow_runs", "workflow_node_executions", "messages", "conversations", "end_users")
    }
    dr, xcoms, states = run_dag("dify_retention", url, conf={"dry_run": True}, archive_root=tmp_path / "arch")
    assert dr.state == DagRunState.SUCCESS, states
    assert xcoms["report"]["dry_run"] is True
    assert xcoms["report"]["total_would_delete"] > 0
    assert xcoms["report"]["total_deleted"] == 0
    assert {t: checksum(url, t, "true") for t in before} == before
    assert not (tmp_path / "arch").exists() or not any((tmp_path / "arch").rglob("*.zst"))


def test_one_family_only(databases, run_dag, tmp_path):
    """A run limited to one family leaves the others alone (and the empty mapped stage is fine)."""
    url = databases.fresh("1.14")
    messages_before = checksum(url, "messages", "true")
    dr, xcoms, states = run_dag("dify_retention", url, conf={"families": ["workflow_logs"]}, archive_root=tmp_path / "arch")
    assert dr.state == DagRunState.SUCCESS, states
    assert xcoms["report"]["total_deleted"] > 0
    assert checksum(url, "messages", "true") == messages_before


def test_deployment_variable_then_params(databases, run_dag, tmp_path, monkeypatch):
    """The Airflow Variable overrides the defaults file; Params override the Variable."""
    url = databases.fresh("1.14")
    monkeypatch.setenv("AIRFLOW_VAR_DIFY_MAINTENANCE_POLICY", '{"families": ["messages"], "messages_days": 365}')
    runs_before = checksum(url, "workflow_runs", "true")
    dr, xcoms, states = run_dag("dify_retention", url, conf={"messages_days": 60}, archive_root=tmp_path / "arch")
    assert dr.state == DagRunState.SUCCESS, states
    assert list(xcoms["report"]["cutoffs"]) == ["messages"]
    assert xcoms["report"]["cutoffs"]["messages"] == (ANCHOR - timedelta(days=60)).isoformat()
    assert checksum(url, "workflow_runs", "true") == runs_before


def test_restore_dag_gives_back_what_retention_archived(databases, run_dag, tmp_path):
    url = databases.fresh("1.14")
    tables = (
        "workflow_runs",
        "workflow_node_executions",
        "workflow_app_logs",
        "messages",
        "message_feedbacks",
        "conversations",
        "end_users",
    )
    before = {t: checksum(url, t, "true") for t in tables}
    dr, xcoms, states = run_dag("dify_retention", url, archive_root=tmp_path / "arch")
    assert dr.state == DagRunState.SUCCESS, states
    assert {t: checksum(url, t, "true") for t in tables} != before
    prefix = xcoms["preflight"]["archive_prefix"]
    for _ in range(2):  # the second restore finds everything present and changes nothing
        dr, xcoms, states = run_dag(
            "dify_restore_archive", url, conf={"archive_prefix": prefix, "use_defaults": True}, archive_root=tmp_path / "arch"
        )
        assert dr.state == DagRunState.SUCCESS, states
        assert {t: checksum(url, t, "true") for t in tables} == before
    assert sum(s["inserted"] for s in xcoms["restore"].values()) == 0


def test_stop_switch_variable_defers_the_run(databases, run_dag, tmp_path, monkeypatch):
    url = databases.fresh("1.14")
    runs_before = checksum(url, "workflow_runs", "true")
    monkeypatch.setenv("AIRFLOW_VAR_DIFY_MAINTENANCE_STOP", "stop")
    dr, xcoms, states = run_dag("dify_retention", url, archive_root=tmp_path / "arch")
    assert dr.state == DagRunState.SUCCESS, states
    assert xcoms["report"]["outcome"] == "deferred"
    assert xcoms["report"]["total_deleted"] == 0
    assert checksum(url, "workflow_runs", "true") == runs_before
    with psycopg.connect(url) as conn:
        assert conn.execute("select outcome from dify_maintenance.history").fetchone()[0] == "deferred"
