"""Real DAG runs with ``dag.test()``: the Dify connection as Airflow reads it, the run's note
as the run page shows it."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path

import psycopg

from support.data import ANCHOR
from support.env import ROOT


def run_note(dag_run) -> str | None:
    """The note on the run's page in Airflow (set by our listener plugin when the run ends)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalar(select(DagRun).where(DagRun.dag_id == dag_run.dag_id, DagRun.run_id == dag_run.run_id))
        return row.note if row else None


def airflow_conn_json(url: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": info.get("host", "127.0.0.1"),
            "port": int(info["port"]) if info.get("port") else None,
            "login": info.get("user"),
            "password": info.get("password"),
            "schema": info.get("dbname"),
        }
    )


def dag_runner(monkeypatch, tmp_path: Path):
    """Run a DAG for real with dag.test() against ``url``; returns (dag_run, xcoms by task id,
    states). ``xcoms["errors"]`` holds the error each failed task recorded, by task id."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}

    def _run(dag_id: str, url: str | None, conf: dict | None = None, archive_root: Path | None = None, logical_date=ANCHOR):
        if url is not None:
            monkeypatch.setenv("AIRFLOW_CONN_DIFY_DB", airflow_conn_json(url))
        else:
            monkeypatch.delenv("AIRFLOW_CONN_DIFY_DB", raising=False)
        monkeypatch.setenv("DIFY_MAINT_ARCHIVE_ROOT", str(archive_root or tmp_path / "archive"))
        dag = bag.dags[dag_id]
        # dag.test() on 3.3.2 crashes after a successful run of a DAG with a DeadlineAlert
        # (DagRun.update_state looks the SDK alert objects up as database ids). Deadlines are
        # not evaluated under dag.test() anyway (airflow3.md 1.2); test_dag_structure checks ours.
        monkeypatch.setattr(dag, "deadline", None)
        if logical_date.tzinfo is None:
            logical_date = logical_date.replace(tzinfo=UTC)
        dr = dag.test(run_conf=conf or {}, logical_date=logical_date)
        xcoms: dict = {"errors": {}}
        for ti in dr.get_task_instances():
            error = ti.xcom_pull(task_ids=ti.task_id, map_indexes=ti.map_index, key="error")
            if error:
                xcoms["errors"][ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"] = error
            if ti.map_index is not None and ti.map_index >= 0:
                continue
            try:
                xcoms[ti.task_id] = ti.xcom_pull(task_ids=ti.task_id)
            except Exception:
                xcoms[ti.task_id] = None
        states = {(ti.task_id, ti.map_index): ti.state for ti in dr.get_task_instances()}
        return dr, xcoms, states

    return _run
