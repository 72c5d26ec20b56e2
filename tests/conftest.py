"""Test harness: a throwaway AIRFLOW_HOME with SQLite, real PostgreSQL, real DAG runs.

Airflow reads its configuration at import time, so the environment is set here, before any
test module imports airflow.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_HOME = ROOT / ".airflow_test_home"
SHARED_SCHEMAS = ROOT.parent / "shared" / "dify-schema"


def _release(dump: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in dump.stem.removeprefix("dify-").split("."))


_NEWEST_SUPPORTED = tuple(
    int(p) for p in json.loads((ROOT / "include" / "dify_versions.json").read_text())["newest_supported"].split(".")
)
# Real schema dumps (they come with ../shared in CI), oldest first, up to the newest release the
# engine knows (a dump past it would be a test of the schema-drift guard, tests/test_real_dumps.py).
ALL_DUMPS = sorted(SHARED_SCHEMAS.glob("dify-*.sql"), key=_release) if SHARED_SCHEMAS.is_dir() else []
SUPPORTED_DUMPS = [d for d in ALL_DUMPS if _release(d) <= _NEWEST_SUPPORTED]

os.environ["AIRFLOW_HOME"] = str(AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{AIRFLOW_HOME}/airflow.db"
os.environ["DIFY_MAINT_ARCHIVE_ROOT"] = str(AIRFLOW_HOME / "dify-archive")
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT))  # devtools/

from devtools import fixtures, generator, pgembed  # noqa: E402

pgembed.offer_clients()  # pg_dump/pg_restore of the embedded server, where no local one fits
from dify_maintenance.core.db import url_connector  # noqa: E402


def _database_now() -> datetime:
    """The database server's clock (naive UTC): Dify dates its rows by it, and every deleting run
    refuses a cutoff later than it."""
    url, _where = pgembed.admin_url("DIFY_MAINT_TEST_PG_URL")
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT now() AT TIME ZONE 'UTC'").fetchone()[0]


# "now" of the generated data (naive UTC): the database's clock when the session starts, so every
# scenario is built relative to the moment its rows and runs are judged by. Never a fixed date.
# Under make test-future the tests' own clock (and Airflow's) is a year ahead of the database's:
# code that reads the worker's wall clock where it should read the run's or the database's then
# sees a year's difference and fails.
ANCHOR = _database_now().replace(second=0, microsecond=0)
SMALL = generator.Scale(runs=600, tenants=2)


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


class Databases:
    """Creates scratch databases (from templates filled once per session) and drops them all."""

    def __init__(self, admin: str) -> None:
        self.admin = admin
        self.created: list[str] = []
        self.templates: dict[str, str] = {}

    def template(self, generation: str, scale: generator.Scale = SMALL, seed: str = "dify") -> str:
        key = f"{generation}:{scale.runs}:{scale.tenants}:{seed}"
        if key not in self.templates:
            name = f"dm_tpl_{uuid.uuid4().hex[:10]}"
            url = fixtures.recreate_database(self.admin, name)
            fixtures.load_sql(url, fixtures.fixture_schema(generation))
            generator.generate(url_connector(url), seed=seed, anchor=ANCHOR, scale=scale)
            self.created.append(name)
            self.templates[key] = name
        return self.templates[key]

    def fresh(self, generation: str | None = None, scale: generator.Scale = SMALL, empty: bool = False) -> str:
        """A new database: a copy of a generated template, or an empty one."""
        name = f"dm_test_{uuid.uuid4().hex[:10]}"
        template = None if empty or generation is None else self.template(generation, scale)
        url = fixtures.recreate_database(self.admin, name, template)
        self.created.append(name)
        return url

    def drop_all(self) -> None:
        for name in reversed(self.created):
            fixtures.drop_database(self.admin, name)


@pytest.fixture(scope="session")
def databases(pg_admin):
    dbs = Databases(pg_admin)
    yield dbs
    dbs.drop_all()


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


@pytest.fixture
def run_dag(airflow_db, monkeypatch, tmp_path):
    """``dag_runner`` for one test."""
    return dag_runner(monkeypatch, tmp_path)


@pytest.fixture(scope="session")
def cluster_server():
    """osmem-server on 127.0.0.1 for the whole session; tests use clones of it."""
    from logstore_helpers import start_cluster

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
    from logstore_helpers import ElasticsearchFace

    face = ElasticsearchFace(cluster.url)
    yield face
    face.close()
