"""Test fixtures: real PostgreSQL, a throwaway AIRFLOW_HOME with SQLite for real DAG runs, and
an in-memory OpenSearch. The helpers live in ``tests/support``; ``support.env`` sets Airflow's
environment, so it is imported before anything imports airflow."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.dags import dag_runner
from support.data import Databases
from support.env import AIRFLOW_HOME

from devtools import pgembed


@pytest.fixture(scope="session")
def pg_admin() -> str:
    url, where = pgembed.admin_url("DIFY_MAINT_TEST_PG_URL")
    print(f"\nPostgreSQL for tests: {where}")
    return url


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated SQLite metadata database in a fresh AIRFLOW_HOME."""
    shutil.rmtree(AIRFLOW_HOME, ignore_errors=True)
    AIRFLOW_HOME.mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
    return AIRFLOW_HOME


@pytest.fixture(scope="session")
def databases(pg_admin):
    dbs = Databases(pg_admin)
    yield dbs
    dbs.drop_all()


@pytest.fixture
def run_dag(airflow_db, monkeypatch, tmp_path):
    """``dag_runner`` for one test."""
    return dag_runner(monkeypatch, tmp_path)


@pytest.fixture(scope="session")
def cluster_server():
    """osmem-server on 127.0.0.1 for the whole session; tests use clones of it."""
    from support.logstore import start_cluster

    server = start_cluster()
    yield server
    server.close()


@pytest.fixture
def cluster(cluster_server):
    """A fresh clone of the server per test: its own empty cluster on its own port."""
    with cluster_server.clone() as clone:
        yield clone


@pytest.fixture
def es(cluster):
    """The clone behind a relay that answers as Elasticsearch 8 (Dify reads only Elasticsearch)."""
    from support.logstore import ElasticsearchFace

    face = ElasticsearchFace(cluster.url)
    yield face
    face.close()


def pytest_collection_modifyitems(items):
    """Mark every test that reaches PostgreSQL (through any fixture built on ``pg_admin``) with
    ``db``: ``pytest -m "not db"`` then runs the tests of pure logic in seconds."""
    for item in items:
        if "pg_admin" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)
