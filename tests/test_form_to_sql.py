"""The trigger form's ``dry_run`` and retention days, followed to the statements PostgreSQL
receives: every statement the engine executes during a real ``dify_retention`` run is recorded
on its way into psycopg (text and bind values), so the test sees what the database saw."""

from __future__ import annotations

import re
from datetime import timedelta

import psycopg
import pytest
from airflow.utils.state import DagRunState
from support.data import ANCHOR

# a statement that removes Dify's rows: DELETE on a table of the public schema
DELETES_DIFY_ROWS = re.compile(
    r'\bDELETE\s+FROM\s+(?:"?public"?\.)?"?(workflow_runs|workflow_node_executions|workflow_app_logs)\b', re.I
)


class StatementLog:
    """Wraps psycopg's Cursor.execute and Cursor.copy (every engine statement goes through one
    of them; a batch that archives streams its DELETE ... RETURNING out with COPY) to keep each
    statement's text and bind values; the statement itself runs unchanged."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[tuple[str, object]] = []
        execute, copy = psycopg.Cursor.execute, psycopg.Cursor.copy

        def text_of(cursor, query) -> str:
            if hasattr(query, "as_string"):
                query = query.as_string(cursor.connection)
            return query.decode() if isinstance(query, bytes) else str(query)

        def logged_execute(cursor, query, params=None, **kwargs):
            self.seen.append((text_of(cursor, query), params))
            return execute(cursor, query, params, **kwargs)

        def logged_copy(cursor, statement, params=None, **kwargs):
            self.seen.append((text_of(cursor, statement), params))
            return copy(cursor, statement, params, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, "execute", logged_execute)
        monkeypatch.setattr(psycopg.Cursor, "copy", logged_copy)

    def clear(self) -> None:
        self.seen.clear()

    def deletes(self) -> list[tuple[str, object]]:
        return [(text, params) for text, params in self.seen if DELETES_DIFY_ROWS.search(text)]


def _values(params) -> list:
    if isinstance(params, dict):
        return list(params.values())
    return list(params or [])


def test_dry_run_and_the_cutoff_go_from_the_form_to_the_statements(databases, run_dag, monkeypatch, tmp_path):
    url = databases.fresh("1.14")
    statements = StatementLog(monkeypatch)
    form = {"families": ["workflow_logs"], "workflow_logs_days": 45}
    cutoff = ANCHOR - timedelta(days=45)  # the run's moment is its logical date, ANCHOR

    dr, xcoms, states = run_dag("dify_retention", url, conf={**form, "dry_run": True})
    assert dr.state == DagRunState.SUCCESS, states
    assert statements.deletes() == []  # a dry run sends no DELETE for Dify's tables
    counted = [params for text, params in statements.seen if cutoff in _values(params)]
    assert counted, "the dry run's counts are bound to the form's cutoff"
    assert not any(
        isinstance(v, type(cutoff)) and v != cutoff and v.date() != ANCHOR.date() for _, p in statements.seen for v in _values(p)
    ), "no other cutoff reaches the database"
    would = xcoms["report"]["total_would_delete"]

    statements.clear()
    newer_before = _newer_runs(url, cutoff)
    dr, xcoms, states = run_dag("dify_retention", url, conf={**form, "dry_run": False})
    assert dr.state == DagRunState.SUCCESS, states
    deletes = statements.deletes()
    assert deletes and all(cutoff in _values(params) for _, params in deletes), [t[:200] for t, _ in deletes]
    assert xcoms["report"]["cutoffs"] == {"workflow_logs": cutoff.isoformat()}
    assert xcoms["report"]["total_deleted"] == would > 0
    assert _newer_runs(url, cutoff) == newer_before > 0  # nothing at or after the cutoff went


def _newer_runs(url: str, cutoff) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM workflow_runs WHERE created_at >= %s", (cutoff,)).fetchone()[0]
