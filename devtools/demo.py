"""``make demo``: a Dify 1.14-shaped database with synthetic data, purged by the real retention
DAG through ``airflow dags test`` in a throwaway AIRFLOW_HOME, ending with the run's report.

PostgreSQL is the embedded pgserver (data in ``.pgdata/``) unless ``DEMO_PG_URL`` names a
server; the demo database is dropped and recreated every time, so a second run starts fresh.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime

import psycopg
from psycopg.rows import dict_row

from devtools import fixtures, generator, pgembed
from dify_maintenance import PROJECT_ROOT
from dify_maintenance.core.db import url_connector
from dify_maintenance.retention import report
from dify_maintenance.storage.stores import StoreConfig

DEMO_DIR = PROJECT_ROOT / ".demo"
DEMO_DB = "dify_demo"


def say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


def airflow_conn(url: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": info.get("host") or "127.0.0.1",
            "port": int(info["port"]) if info.get("port") else None,
            "login": info.get("user"),
            "password": info.get("password"),
            "schema": info.get("dbname"),
        }
    )


def main() -> int:
    started = time.monotonic()
    given = os.environ.get("DEMO_PG_URL")
    admin = given or pgembed.embedded_url()
    say(f"PostgreSQL: {'DEMO_PG_URL' if given else 'embedded pgserver in .pgdata/'}")
    url = fixtures.recreate_database(admin, DEMO_DB)
    fixtures.load_sql(url, fixtures.fixture_schema("1.14"))
    runs = int(os.environ.get("DEMO_RUNS", "3000"))
    anchor = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    storage = StoreConfig("fs", {"root": str(DEMO_DIR / "storage")})
    gen_started = time.monotonic()
    generator.generate(url_connector(url), anchor=anchor, scale=generator.Scale(runs=runs), storage=storage)
    say(f"generated a Dify 1.14 database with {runs} workflow runs in {time.monotonic() - gen_started:.1f}s")

    home = DEMO_DIR / "airflow"
    home.mkdir(parents=True)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW_CONN_DIFY_DB": airflow_conn(url),
        "DIFY_MAINT_ARCHIVE_ROOT": str(DEMO_DIR / "archive"),
        "PYTHONPATH": str(PROJECT_ROOT / "plugins"),
        "DIFY_MAINT_DEADLINES": "off",  # see alerts.deadline_alerts: dags test on 3.3.2
    }
    airflow = [sys.executable, "-m", "airflow"]
    log_path = DEMO_DIR / "airflow-dags-test.log"
    with open(log_path, "w") as log:
        subprocess.run([*airflow, "db", "migrate"], env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
        say("running dify_retention through Airflow (airflow dags test); full log in .demo/airflow-dags-test.log")
        # dry_run off on purpose: the first run on a database is otherwise a dry run (first_run_dry_run)
        conf = json.dumps({"dry_run": False})
        result = subprocess.run(
            [*airflow, "dags", "test", "dify_retention", "-c", conf], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    with psycopg.connect(url, row_factory=dict_row) as conn:
        row = conn.execute("SELECT outcome, report FROM dify_maintenance.history ORDER BY id DESC LIMIT 1").fetchone()
    if row:
        print()
        print(report.render_text(row["report"]))
        print()
    if result.returncode != 0 or not row or row["outcome"] != "success":
        say(f"the retention run FAILED (exit {result.returncode}); last lines of the log:")
        print("".join(log_path.read_text().splitlines(keepends=True)[-40:]))
        return 1
    say(f"done in {time.monotonic() - started:.0f}s; archive of deleted rows in .demo/archive/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
