"""The life of a maintenance run, the same for all eleven DAGs: ``begin`` (our schema, the
cutoffs recorded once, the claim on the database) and ``finish`` (one history row with the
outcome, the counts and the first error; the run closed and the claim given back).

A run that never began (bad input, a database that failed the checks) still ends in the history
where our schema already exists; a database that is not Dify, or not reachable, gets nothing
written into it. The run's note is built here too, so every DAG's note says its outcome first.
"""

from __future__ import annotations

from datetime import datetime

import psycopg

from dify_maintenance.core import state
from dify_maintenance.core.db import Connector, connection
from dify_maintenance.core.moments import refuse_future

OUTCOMES = ("success", "deferred", "failed")
NOTE_LIMIT = 1000  # Airflow's limit for a run note


def run_key(dag_id: str, run_id: str) -> str:
    """The one key a run is known by in our tables, archives and notes."""
    return f"{dag_id}/{run_id}"


def begin(
    conn: psycopg.Connection,
    *,
    key: str,
    dag_id: str,
    run_id: str,
    cutoffs: dict,
    settings: dict,
    dify_version: str,
    db_now: datetime,
    claim: bool,
    checked_moments: dict | None = None,
) -> dict:
    """Our schema, then (a first try only) no moment after the database's clock, the claim when
    the run changes anything, and the run recorded: a retry gets the cutoffs and settings its
    first try stored, never new ones."""
    state.ensure_schema(conn)
    if state.recorded_run(conn, key) is None:
        refuse_future(cutoffs if checked_moments is None else checked_moments, db_now)
    if claim:
        state.claim(conn, key)
    return state.record_run(
        conn, run_key=key, dag_id=dag_id, run_id=run_id, cutoffs=cutoffs, policy=settings, dify_version=dify_version
    )


def finish(connector: Connector, report: dict, *, began: bool, create_schema: bool = False) -> int | None:
    """One history row for the run. ``began``: the run recorded itself and may hold the claim,
    so it is closed, its dry-run ledger forgotten and the claim released. Otherwise the row goes
    where our schema exists (``create_schema``: a DAG that never claims, such as the backup,
    creates it when the run succeeded)."""
    outcome = report["outcome"]
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    with connection(connector) as conn:
        if began:
            return state.record(conn, report)
        if create_schema and outcome != "failed":
            state.ensure_schema(conn)
        elif not state.has_history(conn):
            return None
        return state.append_history(conn, run_key=report["run_key"], dag_id=report["dag_id"], outcome=outcome, report=report)


def note(title: str, report: dict, lines: list[str], headline: str | None = None) -> str:
    """The run's note (Markdown, at most NOTE_LIMIT characters): the title with the outcome in the
    first line (Airflow shows a collapsed note by its first line, and colours a deferred run green
    like a finished one), a ``headline`` if given, the DAG's own lines, then the first error. The
    error is never cut away by the limit."""
    head = f"**{title}: {report['outcome'].upper()}**\n"
    head += "\n- DRY RUN: nothing changed" if report.get("dry_run") else ""
    head += f"\n- {headline}" if headline else ""
    tail = f"\n- error: {report['error']}"[:400] if report.get("error") else ""
    body = "".join(f"\n- {line}" for line in lines)
    room = NOTE_LIMIT - len(head) - len(tail)
    if len(body) > room:
        body = body[: max(room - 2, 0)] + " …"
    return head + body + tail
