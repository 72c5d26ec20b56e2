"""The maintenance page's scenario and Airflow's auth for tests: a database after two retention
runs (the second deferred by the stop switch), two table-size snapshots and a verified backup;
users of the simple auth manager with passwords we choose."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from support import processes
from support.dags import dag_runner
from support.data import ANCHOR

USERS = {"admin": "admin-pw", "viewer": "viewer-pw"}


def auth_env(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """The simple auth manager with a viewer (read-only) and an admin, passwords from our file."""
    passwords = folder / "passwords.json"
    passwords.write_text(json.dumps(USERS))
    monkeypatch.setenv(
        "AIRFLOW__CORE__AUTH_MANAGER", "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
    )
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin,viewer:viewer")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(passwords))
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "test-secret-for-the-maintenance-page-tests-only-" + "x" * 32)


def build_scenario(databases, monkeypatch: pytest.MonkeyPatch, folder: Path) -> dict:
    from airflow.utils.state import DagRunState

    url = databases.fresh("1.14")
    run = dag_runner(monkeypatch, folder)
    monkeypatch.setenv("DIFY_MAINT_BACKUP_ROOT", str(folder / "backups"))
    outcomes = {}
    dr, xcoms, states = run("dify_table_sizes", url)
    assert dr.state == DagRunState.SUCCESS, states
    dr, xcoms, states = run("dify_backup", url, conf={"keep_count": 1})
    assert dr.state == DagRunState.SUCCESS, states
    outcomes["backup"] = xcoms["report"]
    dr, xcoms, states = run("dify_retention", url, conf={"dry_run": False}, archive_root=folder / "arch")
    assert dr.state == DagRunState.SUCCESS, states
    outcomes["first"] = xcoms["report"]
    dr, xcoms, states = run("dify_table_sizes", url)
    assert dr.state == DagRunState.SUCCESS, states
    monkeypatch.setenv("AIRFLOW_VAR_DIFY_MAINTENANCE_STOP", "stop")
    dr, xcoms, states = run(
        "dify_retention", url, conf={"dry_run": False}, archive_root=folder / "arch", logical_date=ANCHOR + timedelta(days=7)
    )
    assert dr.state == DagRunState.SUCCESS, states
    assert xcoms["report"]["outcome"] == "deferred"
    outcomes["second"] = xcoms["report"]
    monkeypatch.delenv("AIRFLOW_VAR_DIFY_MAINTENANCE_STOP")
    return {"url": url, **outcomes}


CHROMIUM = Path("/usr/bin/chromium")
# as root and on a closed network: no sandbox, no background connections (airflow3.md, env notes)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class ApiServer:
    """``airflow api-server`` on 127.0.0.1 in a child process, with the test's AIRFLOW_HOME and
    metadata database; our plugins load as in production."""

    def __init__(self, env: dict[str, str]) -> None:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.env = {**env, "AIRFLOW__API__BASE_URL": self.url + "/"}
        self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log: Path) -> ApiServer:
        import subprocess
        import sys
        import time
        import urllib.request

        cmd = [sys.executable, "-m", "airflow", "api-server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"]
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=log.open("w"), stderr=subprocess.STDOUT)
        for _ in range(240):
            try:
                urllib.request.urlopen(self.url + "/api/v2/monitor/health", timeout=2)
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"api-server exited: {log.read_text()[-2000:]}") from None
                time.sleep(0.5)
        raise RuntimeError("api-server did not answer within 2 minutes")

    def stop(self) -> None:
        processes.stop(self.proc, grace=20)
