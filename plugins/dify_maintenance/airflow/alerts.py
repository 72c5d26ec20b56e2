"""Where failures and missed deadlines go: the task log always, a webhook when configured.

The deadline callback must be a top-level async function importable by the triggerer
(Airflow 3.3), which is why it lives in plugins/ and not in a DAG file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import urllib.request
from datetime import timedelta

try:  # deadline alerts came to the Task SDK in Airflow 3.2; before it, failures still alert
    from airflow.sdk import AsyncCallback, DeadlineAlert, DeadlineReference
except ImportError:  # pragma: no cover (exercised by the oldest-Airflow parse check)
    AsyncCallback = DeadlineAlert = DeadlineReference = None

HAS_DEADLINES = DeadlineAlert is not None

log = logging.getLogger(__name__)

WEBHOOK_CONN_ID = "dify_maintenance_alerts"


def _webhook_url() -> str | None:
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(WEBHOOK_CONN_ID)
    except Exception:
        return None
    url = (conn.extra_dejson or {}).get("url") or conn.host
    return url if url and url.startswith(("http://", "https://")) else None


def _post(payload: dict) -> None:
    """Post one JSON alert; never raise (an alert that cannot be delivered must not hide the
    failure it reports, nor fail the callback that reports it)."""
    url = _webhook_url()
    if not url:
        return
    try:
        body = json.dumps(payload, default=str).encode()  # contexts carry datetimes
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"})  # noqa: S310 - http(s) only, checked in _webhook_url
        urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 - http(s) only, checked above
    except Exception as exc:
        log.error("could not deliver maintenance alert: %s: %s", type(exc).__name__, exc)


def _error_in(summary: object) -> str | None:
    for line in str(summary or "").splitlines():
        text = line.lstrip("- ").strip()
        if text.startswith("error: "):
            return text.removeprefix("error: ")[:500]
    return None


def _run_error(context) -> str | None:
    """The first error of the run, from the report's summary: the run's note (our listener sets
    it when the run fails, before the scheduler asks for this callback), else the summary XCom
    itself (the dag-processor serves XCom reads to callbacks), else a task's exception."""
    dag_run = context.get("dag_run")
    found = _error_in(getattr(dag_run, "note", None))
    ti = context.get("ti") or context.get("task_instance")
    if found is None and ti is not None:
        try:
            found = _error_in(ti.xcom_pull(task_ids="report", key="summary"))
        except Exception:  # dag.test runs DAG callbacks without the processor's XCom channel
            log.debug("summary XCom not readable here", exc_info=True)
    exception = context.get("exception")
    return found or (str(exception)[:500] if exception else None)


class MaintenanceFailureNotifier:
    """One alert per failed run: a DAG-level ``on_failure_callback``, called once when the run
    fails (not once per failed task: a failed preflight also fails the report task). Logs a
    one-line summary and posts it to the alert webhook if one is configured.

    A plain callable, not a ``BaseNotifier``: nothing here is templated, and a notifier's
    template rendering fails where Airflow hands DAG callbacks a serialized DAG (``dag.test``)."""

    def __init__(self, message: str = "Dify maintenance run failed") -> None:
        self.message = message

    def __call__(self, context) -> None:
        self.notify(context)

    def notify(self, context) -> None:
        dag_run = context.get("dag_run")
        dag = context.get("dag")
        payload = {
            "message": self.message,
            "dag_id": getattr(dag_run, "dag_id", None) or getattr(dag, "dag_id", None),
            "run_id": getattr(dag_run, "run_id", None) or context.get("run_id"),
            "reason": context.get("reason"),
            "error": _run_error(context),
        }
        log.error("MAINTENANCE ALERT %s", payload)
        _post(payload)


FINISHED_STATES = ("success", "failed")


async def deadline_missed(dag: str, context: dict | None = None, **kwargs) -> None:
    """A run is still going past its deadline: somebody should look at it.

    Airflow 3.3 keeps a run's deadline when the run fails and fires it later anyway; a run that
    has finished (its state is in the context the scheduler captured) needs no deadline alert:
    a failed one already sent its failure alert. Kwargs stay flat (nested dicts in callback
    kwargs are reported to break the scheduler across upgrades)."""
    dag_run = (context or {}).get("dag_run") or {}
    state = str(dag_run.get("state") or "")
    if state in FINISHED_STATES:
        log.info("deadline of %s %s passed after the run had ended (%s): no alert", dag, dag_run.get("dag_run_id"), state)
        return
    deadline = (context or {}).get("deadline") or {}
    payload = {
        "message": f"{dag} missed its deadline",
        "dag_id": dag_run.get("dag_id", dag),
        "run_id": dag_run.get("dag_run_id"),
        "state": state or None,
        "started": dag_run.get("start_date"),
        "deadline": deadline.get("deadline_time"),
    }
    log.error("MAINTENANCE DEADLINE %s", payload)
    await asyncio.to_thread(_post, payload)


def deadline_alerts(dag_id: str, hours: int) -> dict:
    """The DAG's ``deadline`` argument (a run-level deadline for ``dag_id``), as keyword
    arguments for ``@dag``: none on an Airflow without deadline alerts (before 3.2), or with
    ``DIFY_MAINT_DEADLINES=off``.

    ``airflow dags test`` on 3.3.2 crashes after a successful run of a DAG that has a deadline
    (DagRun.update_state looks the in-memory alert objects up as database ids); the demo turns
    deadlines off for that reason. They are never evaluated under ``dags test`` anyway.
    """
    if not HAS_DEADLINES or os.environ.get("DIFY_MAINT_DEADLINES", "on").lower() in ("off", "0", "false"):
        return {}
    return {
        "deadline": [
            DeadlineAlert(
                reference=DeadlineReference.DAGRUN_QUEUED_AT,
                interval=timedelta(hours=hours),
                callback=AsyncCallback(deadline_missed, kwargs={"dag": dag_id}),
            )
        ]
    }
