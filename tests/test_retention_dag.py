"""The weekly retention DAG, run for real through Airflow on generated Dify data."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from airflow.utils.state import DagRunState
from support.dags import run_note
from support.data import ANCHOR

WORKFLOW_CUTOFF = ANCHOR - timedelta(days=30)
# chatflow history loads each message's run (Dify issue #32674): never one missing
DANGLING_CHATFLOW_RUNS = (
    "select count(*) from messages m where m.workflow_run_id is not null "
    "and not exists (select 1 from workflow_runs r where r.id = m.workflow_run_id)"
)
# The form's explicit choice: without it the first run on a fresh database is a dry run.
REAL = {"dry_run": False}


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

    dr, xcoms, states = run_dag("dify_retention", url, conf=REAL, archive_root=tmp_path / "arch")

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
    # an ended run goes unless a remaining chatflow message shows it; no message names a missing run
    ended_old = "select count(*) from workflow_runs r where created_at < %s and status = 'succeeded'"
    shown = " and exists (select 1 from messages m where m.workflow_run_id = r.id)"
    assert count(url, ended_old, [WORKFLOW_CUTOFF]) == count(url, ended_old + shown, [WORKFLOW_CUTOFF]) > 0
    assert count(url, DANGLING_CHATFLOW_RUNS) == 0
    assert count(url, "select count(*) from dify_maintenance.history where outcome = 'success'") == 1
    assert count(url, "select count(*) from dify_maintenance.claim") == 0
    # the report reads top-down in the log pane: summary first, nothing wider than the pane,
    # the unindexed lookups folded into one line with the fix
    from dify_maintenance.retention import report as report_mod

    with psycopg.connect(url) as conn:
        recorded = conn.execute("select report from dify_maintenance.history").fetchone()[0]
    lines = report_mod.render_text(recorded).splitlines()
    assert lines[0].startswith("Dify retention report  dify_retention/")
    assert lines[2].startswith("SUCCESS") and lines[3].startswith(f"deleted {summary['total_deleted']:,} rows")
    assert max(map(len, lines)) <= report_mod.WIDTH
    assert recorded["unindexed_lookups"] and sum("no supporting index" in line for line in lines) == 1
    assert any("build_missing_indexes" in line for line in lines[:8])
    # the run page says what happened without opening a log
    note = run_note(dr)
    assert note.startswith("**Dify retention report: SUCCESS**")
    assert f"deleted {summary['total_deleted']:,} rows (workflow_logs" in note


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
    dr, xcoms, states = run_dag(
        "dify_retention", url, conf={"families": ["workflow_logs"], **REAL}, archive_root=tmp_path / "arch"
    )
    assert dr.state == DagRunState.SUCCESS, states
    assert xcoms["report"]["total_deleted"] > 0
    assert checksum(url, "messages", "true") == messages_before


def test_deployment_variable_then_params(databases, run_dag, tmp_path, monkeypatch):
    """The Airflow Variable overrides the defaults file; Params override the Variable."""
    url = databases.fresh("1.14")
    monkeypatch.setenv("AIRFLOW_VAR_DIFY_MAINTENANCE_POLICY", '{"families": ["messages"], "messages_days": 365}')
    runs_before = checksum(url, "workflow_runs", "type <> 'chat'")
    chat_runs_before = count(url, "select count(*) from workflow_runs where type = 'chat'")
    dr, xcoms, states = run_dag("dify_retention", url, conf={"messages_days": 60, **REAL}, archive_root=tmp_path / "arch")
    assert dr.state == DagRunState.SUCCESS, states
    assert list(xcoms["report"]["cutoffs"]) == ["messages"]
    assert xcoms["report"]["cutoffs"]["messages"] == (ANCHOR - timedelta(days=60)).isoformat()
    # only the messages family ran: workflow runs go only as a purged chatflow message's own run
    assert checksum(url, "workflow_runs", "type <> 'chat'") == runs_before
    assert count(url, "select count(*) from workflow_runs where type = 'chat'") < chat_runs_before
    assert count(url, DANGLING_CHATFLOW_RUNS) == 0


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
    dr, xcoms, states = run_dag("dify_retention", url, conf=REAL, archive_root=tmp_path / "arch")
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
    dr, xcoms, states = run_dag("dify_retention", url, conf=REAL, archive_root=tmp_path / "arch")
    assert dr.state == DagRunState.SUCCESS, states
    assert xcoms["report"]["outcome"] == "deferred"
    assert xcoms["report"]["total_deleted"] == 0
    assert checksum(url, "workflow_runs", "true") == runs_before
    with psycopg.connect(url) as conn:
        assert conn.execute("select outcome from dify_maintenance.history").fetchone()[0] == "deferred"


def test_first_run_on_a_database_is_a_dry_run_then_the_next_one_purges(databases, run_dag, tmp_path):
    """Unpausing starts a run at once (catchup=False still runs the latest missed Sunday): with
    first_run_dry_run (the default) that run only reports; the next scheduled run deletes."""
    url = databases.fresh("1.14")
    before = checksum(url, "workflow_runs", "true")
    dr, xcoms, states = run_dag("dify_retention", url, archive_root=tmp_path / "arch")
    assert dr.state == DagRunState.SUCCESS, states
    assert xcoms["report"]["dry_run"] is True and xcoms["report"]["total_would_delete"] > 0
    assert checksum(url, "workflow_runs", "true") == before
    assert "first run of dify_retention on this database" in xcoms["preflight"]["notes"][0]

    dr, xcoms, states = run_dag("dify_retention", url, archive_root=tmp_path / "arch", logical_date=ANCHOR + timedelta(days=7))
    assert dr.state == DagRunState.SUCCESS, states
    assert xcoms["report"]["dry_run"] is False and xcoms["report"]["total_deleted"] > 0
    assert checksum(url, "workflow_runs", "true") != before


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ({"dryrun": True}, "'dryrun' (did you mean 'dry_run'?)"),
        ({"workflow_log_days": 60}, "'workflow_log_days' (did you mean 'workflow_logs_days'?)"),
        ({"time_budget_minutes": 0}, "'time_budget_minutes'"),
        ({"conn_id": "other_db"}, "'conn_id'"),
        ({"max_transaction_age_seconds": 99999}, "'max_transaction_age_seconds'"),
    ],
)
def test_a_conf_key_outside_the_form_fails_before_anything_is_touched(conf, message, databases, run_dag, tmp_path):
    """A typo was once ignored and the run purged for real; settings outside the form (time
    budget, thresholds, connections) are the deployment's and cannot come from a run."""
    url = databases.fresh("1.14")
    before = checksum(url, "workflow_runs", "true")
    dr, xcoms, states = run_dag("dify_retention", url, conf={**REAL, **conf}, archive_root=tmp_path / "arch")
    assert dr.state == DagRunState.FAILED
    assert states[("preflight", -1)] == "failed"
    assert checksum(url, "workflow_runs", "true") == before
    assert count(url, "select count(*) from pg_namespace where nspname = 'dify_maintenance'") == 0
    assert message in xcoms["errors"]["preflight"]
    assert "a run may set only its form's fields" in xcoms["errors"]["preflight"].lower()
    assert "FAILED before anything started" in run_note(dr) and message in run_note(dr)


def test_every_run_is_in_the_history_with_its_outcome_and_error(databases, run_dag, tmp_path):
    """Success, a run refused at preflight (after an earlier run created our schema) and a run
    that failed half-way are all recorded, each failure with the error of the task that failed."""
    url = databases.fresh("1.14")
    dr, xcoms, states = run_dag("dify_retention", url, conf={"families": ["end_users"], **REAL}, archive_root=tmp_path / "a")
    assert dr.state == DagRunState.SUCCESS, states
    dr, xcoms, states = run_dag("dify_retention", url, conf={"dryrun": True}, archive_root=tmp_path / "a")
    assert dr.state == DagRunState.FAILED
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the archive folder should be")
    dr, xcoms, states = run_dag("dify_retention", url, conf=REAL, archive_root=blocked, logical_date=ANCHOR + timedelta(1))
    assert dr.state == DagRunState.FAILED and states[("archive_gate", -1)] == "failed"
    with psycopg.connect(url) as conn:
        rows = conn.execute("select outcome, report->>'error' from dify_maintenance.history order by id").fetchall()
    assert [outcome for outcome, _ in rows] == ["success", "failed", "failed"]
    assert rows[0][1] is None
    assert rows[1][1].startswith("preflight: InvalidPolicy") and "did you mean 'dry_run'" in rows[1][1]
    assert rows[2][1].startswith("archive_gate: ")
    assert "archive_gate" in run_note(dr)


def history_tables(url: str, counter: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        report = conn.execute("select report from dify_maintenance.history order by id desc limit 1").fetchone()[0]
    return {table: row[counter] for table, row in report["tables"].items() if row[counter]}


def test_dry_run_predicts_the_real_run_table_by_table(databases, run_dag, tmp_path):
    """A dry run counts what the real run deletes, also what only becomes purgeable through the
    run itself: conversations whose messages all go, end users whose conversations all go."""
    url = databases.fresh("1.14")
    dr, xcoms, states = run_dag("dify_retention", url, conf={"dry_run": True}, archive_root=tmp_path / "arch")
    assert dr.state == DagRunState.SUCCESS, states
    predicted = history_tables(url, "would_delete")
    dr, xcoms, states = run_dag("dify_retention", url, conf=REAL, archive_root=tmp_path / "arch")
    assert dr.state == DagRunState.SUCCESS, states
    assert history_tables(url, "deleted") == predicted
    assert predicted["conversations"] > 0 and predicted["end_users"] > 0 and predicted["pinned_conversations"] > 0
    assert count(url, "select count(*) from dify_maintenance.dry_run_ledger") == 0
