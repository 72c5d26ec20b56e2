"""Airflow plugin: when a maintenance run ends, its report's summary becomes the run's note.

A task cannot set its run's note through the Task SDK (3.3), so the report task publishes the
summary as its ``summary`` XCom and this listener, called by the scheduler (and by ``dag.test``)
when the run's state is decided, copies it into the note shown on the run page. It never
commits: the caller's session does, together with the run's new state. A note a person wrote
is left alone.

Registered through the package's ``airflow.plugins`` entry point, or, in a plugins folder
layout, by ``plugins/dify_maintenance_notes.py``.
"""

from __future__ import annotations

import json
import logging
import sys

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)

REPORT_TASK = "report"
SUMMARY_KEY = "summary"
NOTE_LIMIT = 1000  # the REST API's limit for a run note


def _summary(session, dag_run_id: int) -> str | None:
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    row = session.scalar(
        select(XComModel).where(
            XComModel.dag_run_id == dag_run_id,
            XComModel.task_id == REPORT_TASK,
            XComModel.key == SUMMARY_KEY,
            XComModel.map_index == -1,
        )
    )
    if row is None:
        return None
    value = XComModel.deserialize_value(row)
    return value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)


def set_note_from_report(dag_run, session) -> str | None:
    """Copy the report's summary into the run's note (unless a person wrote one); never commits."""
    summary = _summary(session, dag_run.id)
    if summary is None:
        return None
    existing = dag_run.dag_run_note
    if existing is not None and existing.user_id is not None:
        return None
    note = summary[:NOTE_LIMIT]
    if existing is None:
        dag_run.note = note
    else:
        existing.content = note
    return note


def _on_run_end(dag_run) -> None:
    from airflow import settings
    from airflow.models.dagrun import DagRun
    from sqlalchemy.orm import object_session

    try:
        session = object_session(dag_run)
        if session is None:
            # dag.test(): the run was detached by the time its state was decided; dag.test
            # commits its scoped session right after this hook.
            session = settings.Session()
            dag_run = session.get(DagRun, dag_run.id)
        set_note_from_report(dag_run, session)
    except Exception:  # a listener must never break the scheduler's loop
        log.exception("could not set the note of %s/%s from its report", dag_run.dag_id, dag_run.run_id)


@hookimpl
def on_dag_run_success(dag_run, msg: str) -> None:
    _on_run_end(dag_run)


@hookimpl
def on_dag_run_failed(dag_run, msg: str) -> None:
    _on_run_end(dag_run)


class DifyMaintenanceNotesPlugin(AirflowPlugin):
    name = "dify_maintenance_notes"
    listeners = [sys.modules[__name__]]
