"""The weekly retention DAG, run for real through Airflow on generated Dify data."""

from __future__ import annotations

import psycopg
import pytest
from airflow.utils.state import DagRunState
from conftest import ANCHOR


def count(url: str, sql: str, params=None) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()[0]


@pytest.mark.parametrize("generation", ["1.14", "0.15"])
def test_retention_runs_green_and_purges(generation, databases, run_dag, tmp_path):
    url = databases.fresh(generation)
    runs_before = count(url, "select count(*) from workflow_runs")
    newer_before = count(url, "select count(*) from workflow_node_executions where created_at >= %s", [ANCHOR.replace(day=1)])
    dr, xcoms, states = run_dag("dify_retention", url, archive_root=tmp_path / "arch")
    assert dr.state == DagRunState.SUCCESS, states
    summary = xcoms["report"]
    assert summary["outcome"] == "success"
    assert summary["total_deleted"] > 0
    assert count(url, "select count(*) from workflow_runs") < runs_before
    # nothing newer than the workflow cutoff (30 days before the logical date) was touched
    assert count(url, "select count(*) from workflow_node_executions where created_at >= %s", [ANCHOR.replace(day=1)]) == newer_before
    assert count(url, "select count(*) from dify_maintenance.history where outcome = 'success'") == 1
    assert count(url, "select count(*) from dify_maintenance.claim") == 0
