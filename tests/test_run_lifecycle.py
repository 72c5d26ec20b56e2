"""Every DAG ends its runs the same way: one history row (outcome, counts, first error) and one
note on the run page, on success, failure and deferral; deployment settings apart from the
retention policy, so a retention-key mistake stops only the runs that purge."""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg
import pytest
from airflow.utils.state import DagRunState
from support.dags import run_note
from support.data import ANCHOR

from dify_maintenance.core import state
from dify_maintenance.core.db import connection, url_connector

DAG_IDS = (
    "dify_backup",
    "dify_log_cleanup_pg",
    "dify_log_index_retention",
    "dify_log_migration",
    "dify_orphaned_files",
    "dify_pre_upgrade_cleanup",
    "dify_restore_archive",
    "dify_restore_quarantine",
    "dify_retention",
    "dify_storage_migration",
    "dify_table_sizes",
)

# the fields a run cannot be created without (Airflow refuses such a run before it exists)
REQUIRED = {
    "dify_log_cleanup_pg": {"before_date": (ANCHOR - timedelta(days=400)).date().isoformat()},
    "dify_restore_archive": {"archive_prefix": "retention/none"},
    "dify_restore_quarantine": {"quarantine_id": "none"},
}


def run_history(url: str, dag_run) -> list[tuple[str, dict]]:
    """The history rows of one DAG run: (outcome, report)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT outcome, report FROM dify_maintenance.history WHERE run_key = %s ORDER BY id",
            (f"{dag_run.dag_id}/{dag_run.run_id}",),
        ).fetchall()
    return [(outcome, report) for outcome, report in rows]


def assert_run_ended(url: str, dag_run, outcome: str) -> dict:
    """One history row with ``outcome`` and a note that says it first; returns the report."""
    rows = run_history(url, dag_run)
    assert [o for o, _ in rows] == [outcome], rows
    note = run_note(dag_run)
    assert note and note.startswith("**Dify ") and note.splitlines()[0].endswith(f": {outcome.upper()}**"), note
    return rows[0][1]


@pytest.fixture(scope="module")
def dify_with_history(databases):
    """A Dify 1.14 database that already has our schema (a failed run is recorded only there)."""
    url = databases.fresh("1.14")
    with connection(url_connector(url)) as conn:
        state.ensure_schema(conn)
    return url


@pytest.mark.parametrize("dag_id", DAG_IDS)
def test_a_failed_run_ends_in_one_history_row_and_a_note_with_its_error(dag_id, dify_with_history, run_dag):
    """A field no form declares fails every DAG before anything changes; the run still ends in
    the history, its note and its red state, all naming the field."""
    dr, xcoms, states = run_dag(dag_id, dify_with_history, conf={**REQUIRED.get(dag_id, {}), "no_such_field": 1})
    assert dr.state == DagRunState.FAILED, states
    report = assert_run_ended(dify_with_history, dr, "failed")
    assert "no_such_field" in report["error"]
    assert "no_such_field" in run_note(dr)


def test_table_sizes_success_ends_in_history_and_note(databases, run_dag):
    url = databases.fresh("1.14")
    dr, xcoms, states = run_dag("dify_table_sizes", url)
    assert dr.state == DagRunState.SUCCESS, states
    report = assert_run_ended(url, dr, "success")
    with psycopg.connect(url) as conn:
        measured = conn.execute("SELECT count(DISTINCT table_name) FROM dify_maintenance.table_sizes").fetchone()[0]
    assert report["snapshot"]["tables"] == measured > 0


def test_a_deferred_run_ends_in_history_and_a_note_that_says_so(databases, run_dag, monkeypatch, tmp_path):
    url = databases.fresh("1.14")
    monkeypatch.setenv("AIRFLOW_VAR_DIFY_MAINTENANCE_STOP", "stop")
    dr, xcoms, states = run_dag("dify_retention", url, conf={"dry_run": False})
    assert dr.state == DagRunState.SUCCESS, states
    report = assert_run_ended(url, dr, "deferred")
    assert report["total_deleted"] == 0


def test_a_retention_key_typo_stops_only_the_runs_that_purge(databases, run_dag, monkeypatch, tmp_path):
    url = databases.fresh("1.14")
    monkeypatch.setenv("DIFY_MAINT_BACKUP_ROOT", str(tmp_path / "backups"))
    monkeypatch.setenv("AIRFLOW_VAR_DIFY_MAINTENANCE_POLICY", json.dumps({"messages_days": "ninety", "workflow_log_days": 7}))
    dr, xcoms, states = run_dag("dify_backup", url, conf={"keep_count": 1})
    assert dr.state == DagRunState.SUCCESS, states
    assert assert_run_ended(url, dr, "success")["verified"] is True
    dr, xcoms, states = run_dag("dify_table_sizes", url)
    assert dr.state == DagRunState.SUCCESS, states
    dr, xcoms, states = run_dag("dify_retention", url, conf={"dry_run": True})
    assert dr.state == DagRunState.FAILED, states
    error = assert_run_ended(url, dr, "failed")["error"]
    assert "messages_days must be a whole number" in error and "workflow_log_days" in error
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM dify_maintenance.runs WHERE dag_id = 'dify_retention'").fetchone()[0] == 0


def test_a_misspelt_connection_setting_fails_every_run_with_what_it_meant(databases, run_dag, monkeypatch, tmp_path):
    url = databases.fresh("1.14")
    monkeypatch.setenv("DIFY_MAINT_BACKUP_ROOT", str(tmp_path / "backups"))
    monkeypatch.setenv("AIRFLOW_VAR_DIFY_MAINTENANCE_POLICY", json.dumps({"conn_idd": "dify_db"}))
    dr, xcoms, states = run_dag("dify_backup", url)
    assert dr.state == DagRunState.FAILED, states
    assert "did you mean 'conn_id'" in run_note(dr)
    assert not (tmp_path / "backups").exists()
