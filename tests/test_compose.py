"""docker-compose.yaml cannot run here (no Docker engine); its structure is checked instead."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-init")


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def test_services_and_executor():
    doc = compose()
    assert set(doc["services"]) == {"postgres", *AIRFLOW_SERVICES}
    commands = {name: doc["services"][name].get("command") for name in AIRFLOW_SERVICES[:4]}
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
    }
    for name in AIRFLOW_SERVICES:
        env = doc["services"][name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert "AIRFLOW__API_AUTH__JWT_SECRET" in env  # identical everywhere: one anchor
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert "postgres/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        mounts = {re.sub(r"^\$\{[^}]*\}", "host", v).split(":")[1] for v in doc["services"][name]["volumes"]}
        assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/include"} <= mounts
        # archives and backups land on named volumes, where the store defaults point
        assert env["DIFY_MAINT_ARCHIVE_ROOT"].endswith(":-/opt/airflow/archive}") and "/opt/airflow/archive" in mounts
        assert env["DIFY_MAINT_BACKUP_ROOT"].endswith(":-/opt/airflow/backups}") and "/opt/airflow/backups" in mounts
        assert doc["services"][name]["env_file"] == ["${ENV_FILE_PATH:-.env}"]
        assert "/opt/dify" in mounts  # Dify's .env and local storage for the file DAGs
        assert doc["services"][name]["build"] == "."
    assert doc["services"]["postgres"]["healthcheck"]["test"][:2] == ["CMD", "pg_isready"]


def test_dockerfile_installs_requirements_and_a_new_enough_pg_client():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM apache/airflow:3\.3\.\d", text, re.M)
    assert "-r /requirements.txt" in text
    major = int(re.search(r"postgresql-client-(\d+)", text).group(1))
    assert major >= 15  # Dify's compose runs postgres:15; pg_dump must be at least the server's major


def test_env_example_documents_every_variable_compose_reads():
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", (ROOT / "docker-compose.yaml").read_text()))
    documented = set(re.findall(r"^#?\s*([A-Z_][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    assert used - {"ENV_FILE_PATH", "HOSTNAME"} <= documented
    assert "AIRFLOW_CONN_DIFY_DB" in documented
