"""Alerts that arrive: the deadline callback as Airflow 3.3.2's triggerer runs it, and one failure
alert per failed run, both posted to a real local HTTP server that records what it receives."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from airflow.utils.state import DagRunState
from support.data import ANCHOR


class Webhook:
    """A webhook endpoint on 127.0.0.1 that keeps every JSON body posted to it."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        self.server.shutdown()


@pytest.fixture
def webhook(monkeypatch):
    hook = Webhook()
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_MAINTENANCE_ALERTS", json.dumps({"conn_type": "http", "extra": {"url": hook.url}}))
    yield hook
    hook.stop()


def deadline_context(state: str) -> dict:
    """The context Airflow 3.3.2 hands a deadline callback (models/deadline.py handle_miss, read
    back by the triggerer): the run as DAGRunResponse JSON (ISO strings), the deadline time as a
    real datetime. Captured from a real handle_miss on a run in ``state``."""
    start = datetime.now(UTC) - timedelta(hours=7)
    return {
        "dag_run": {
            "dag_run_id": "scheduled__2026-11-29T03:00:00+00:00",
            "dag_id": "dify_retention",
            "logical_date": start.isoformat().replace("+00:00", "Z"),
            "queued_at": start.isoformat().replace("+00:00", "Z"),
            "start_date": start.isoformat().replace("+00:00", "Z"),
            "end_date": None if state == "running" else (start + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
            "run_type": "scheduled",
            "state": state,
            "conf": {},
            "note": None,
            "dag_versions": [{"id": "01a241fb-0000", "version_number": 2, "dag_id": "dify_retention"}],
        },
        "deadline": {"id": "01a241fb-8791-7000", "deadline_time": start + timedelta(hours=6)},
    }


def run_deadline_callback(context: dict) -> list[dict]:
    """Run the callback exactly as the triggerer does (airflow.triggers.callback.CallbackTrigger)."""
    from airflow.triggers.callback import CallbackTrigger

    from dify_maintenance.airflow.alerts import deadline_alerts

    alert = deadline_alerts("dify_retention", hours=6)["deadline"][0]
    trigger = CallbackTrigger(callback_path=alert.callback.path, callback_kwargs={**alert.callback.kwargs, "context": context})

    async def events():
        return [event.payload async for event in trigger.run()]

    return asyncio.run(events())


def test_a_missed_deadline_reaches_the_webhook(webhook):
    events = run_deadline_callback(deadline_context("running"))
    assert events[-1]["state"] == "success", events
    assert len(webhook.received) == 1
    alert = webhook.received[0]
    assert alert["message"] == "dify_retention missed its deadline" and alert["state"] == "running"
    assert alert["run_id"] == "scheduled__2026-11-29T03:00:00+00:00" and alert["deadline"].startswith(str(ANCHOR.year)[:3])


@pytest.mark.parametrize("state", ["failed", "success"])
def test_no_deadline_alert_for_a_run_that_has_ended(webhook, state):
    """Airflow 3.3.2 prunes deadlines only on success in time: a failed run still fires later."""
    events = run_deadline_callback(deadline_context(state))
    assert events[-1]["state"] == "success", events
    assert webhook.received == []


def test_deadline_callback_kwargs_are_flat():
    from dify_maintenance.airflow.alerts import deadline_alerts

    kwargs = deadline_alerts("dify_retention", hours=6)["deadline"][0].callback.kwargs
    assert all(not isinstance(v, dict | list) for v in kwargs.values())


def test_one_failed_run_sends_one_alert_with_its_error(webhook, databases, run_dag, tmp_path):
    """A refused conf key fails preflight, and the report task then fails too: one alert, not
    two, and it says what went wrong."""
    url = databases.fresh("1.14")
    dr, xcoms, states = run_dag("dify_retention", url, conf={"dryrun": True}, archive_root=tmp_path / "a")
    assert dr.state == DagRunState.FAILED
    assert states[("preflight", -1)] == "failed" and states[("report", -1)] == "failed"
    assert len(webhook.received) == 1, webhook.received
    alert = webhook.received[0]
    assert alert["dag_id"] == "dify_retention" and alert["run_id"] == dr.run_id and alert["reason"] == "task_failure"


def test_the_failure_alert_names_the_first_error(webhook):
    """The DAG callback's context as the dag-processor builds it after our listener set the run's
    note from the report's summary (dag.test hands callbacks a run without it)."""
    from airflow.api_fastapi.execution_api.datamodels.taskinstance import DagRun

    from dify_maintenance.airflow.alerts import MaintenanceFailureNotifier
    from dify_maintenance.retention import report

    rep = {"dag_id": "dify_retention", "outcome": "failed", "dry_run": False, "dify_version": "1.14.1", "cutoffs": {}}
    rep.update(total_deleted=0, total_would_delete=0, per_family={}, error="verify: VerificationFailed: 3 orphans left")
    now = datetime.now(UTC)
    dag_run = DagRun(
        dag_id="dify_retention",
        run_id="scheduled__x",
        logical_date=now,
        data_interval_start=now,
        data_interval_end=now,
        run_after=now,
        start_date=now,
        end_date=now,
        run_type="scheduled",
        state="failed",
        conf={},
        consumed_asset_events=[],
        partition_key=None,
        note=report.note_text(rep),
    )
    MaintenanceFailureNotifier("Dify retention run failed")(
        {"dag_run": dag_run, "reason": "task_failure", "run_id": "scheduled__x"}
    )
    assert webhook.received == [
        {
            "message": "Dify retention run failed",
            "dag_id": "dify_retention",
            "run_id": "scheduled__x",
            "reason": "task_failure",
            "error": "verify: VerificationFailed: 3 orphans left",
        }
    ]


def test_a_successful_run_sends_nothing(webhook, databases, run_dag, tmp_path):
    url = databases.fresh("1.14")
    dr, xcoms, states = run_dag("dify_retention", url, conf={"dry_run": True}, archive_root=tmp_path / "a")
    assert dr.state == DagRunState.SUCCESS, states
    assert webhook.received == []
