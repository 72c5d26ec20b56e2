"""Where failures and missed deadlines go: the task log always, a webhook when configured.

The deadline callback must be a top-level async function importable by the triggerer
(airflow3.md section 1.2), which is why it lives in plugins/ and not in a DAG file.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from datetime import timedelta

from airflow.sdk import AsyncCallback, BaseNotifier, DeadlineAlert, DeadlineReference

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
    url = _webhook_url()
    if not url:
        return
    request = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})  # noqa: S310 - http(s) only, checked in _webhook_url
    try:
        urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 - http(s) only, checked above
    except Exception as exc:  # an alert that cannot be delivered must not hide the original failure
        log.error("could not deliver maintenance alert: %s", type(exc).__name__)


class MaintenanceFailureNotifier(BaseNotifier):
    """Logs a one-line summary of the failed task and posts it to the alert webhook if set."""

    template_fields = ("message",)

    def __init__(self, message: str = "Dify maintenance run failed") -> None:
        super().__init__()
        self.message = message

    def notify(self, context) -> None:
        ti = context.get("ti") or context.get("task_instance")
        payload = {
            "message": self.message,
            "dag_id": getattr(ti, "dag_id", None),
            "task_id": getattr(ti, "task_id", None),
            "run_id": getattr(ti, "run_id", None),
            "error": str(context.get("exception") or "")[:500],
        }
        log.error("MAINTENANCE ALERT %s", payload)
        _post(payload)


async def deadline_missed(dag: str, **kwargs) -> None:
    """A retention run is still going past its deadline: somebody should look at it."""
    payload = {"message": f"{dag} missed its deadline", "deadline": (kwargs.get("context") or {}).get("deadline")}
    log.error("MAINTENANCE DEADLINE %s", payload)
    _post(payload)


def deadline_alerts(dag_id: str, hours: int) -> list[DeadlineAlert] | None:
    """The run-level deadline for ``dag_id``, or none when ``DIFY_MAINT_DEADLINES=off``.

    ``airflow dags test`` on 3.3.2 crashes after a successful run of a DAG that has a deadline
    (DagRun.update_state looks the in-memory alert objects up as database ids); the demo turns
    deadlines off for that reason. They are never evaluated under ``dags test`` anyway.
    """
    if os.environ.get("DIFY_MAINT_DEADLINES", "on").lower() in ("off", "0", "false"):
        return None
    return [
        DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            interval=timedelta(hours=hours),
            callback=AsyncCallback(deadline_missed, kwargs={"dag": dag_id}),
        )
    ]
