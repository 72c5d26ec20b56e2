"""Airflow connections as the package reads them: the Dify database as the Postgres provider's
hook reads it (every libpq extra reaches the session, a wrong type is refused), and the log
cluster with its scheme and credentials exactly as written, in each provider's way."""

from __future__ import annotations

import json

import psycopg
import pytest

from dify_maintenance.airflow import connections
from dify_maintenance.core.errors import MaintenanceError


def _conn_env(monkeypatch, conn_id: str, value: dict | str) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value if isinstance(value, str) else json.dumps(value))


def test_every_libpq_extra_reaches_the_session_and_the_client_programs(pg_admin, monkeypatch):
    info = psycopg.conninfo.conninfo_to_dict(pg_admin)
    _conn_env(
        monkeypatch,
        "dify_db_extras",
        {
            "conn_type": "postgres",
            "host": info.get("host", "127.0.0.1"),
            "port": int(info.get("port") or 5432),
            "login": info.get("user"),
            "password": info.get("password"),
            "schema": info.get("dbname", "postgres"),
            # options and sslmode are libpq's; aws_conn_id and cursor are the hook's own
            "extra": {"options": "-c statement_timeout=4321", "sslmode": "disable", "aws_conn_id": "x", "cursor": "dictcursor"},
        },
    )
    target = connections.dify_database("dify_db_extras")
    with target() as conn:
        assert conn.execute("SHOW statement_timeout").fetchone()["statement_timeout"] == "4321ms"
        assert conn.info.get_parameters().get("sslmode") == "disable"
    env = target.libpq_env()
    assert env["PGOPTIONS"] == "-c statement_timeout=4321" and env["PGSSLMODE"] == "disable"
    assert "aws_conn_id" not in repr(target)


def test_a_connection_of_another_type_is_refused(monkeypatch):
    _conn_env(monkeypatch, "dify_db_mysql", "mysql://u:p@db:3306/dify")
    with pytest.raises(MaintenanceError, match="needs a postgres connection"):
        connections.dify_database("dify_db_mysql")


@pytest.mark.parametrize(
    ("written", "hosts"),
    [
        ("https://elastic:s3cret%21@es.example:9243", ("https://es.example:9243",)),
        ("http://elastic:s3cret%21@es.example:9200", ("http://es.example:9200",)),
        (
            {
                "conn_type": "elasticsearch",
                "host": "es.example",
                "port": 9243,
                "login": "elastic",
                "password": "s3cret!",
                "extra": {"scheme": "https"},
            },
            ("https://es.example:9243",),
        ),
        (
            {
                "conn_type": "opensearch",
                "host": "es.example",
                "port": 9243,
                "login": "elastic",
                "password": "s3cret!",
                "extra": {"use_ssl": True},
            },
            ("https://es.example:9243",),
        ),
    ],
    ids=["https-uri", "http-uri", "elasticsearch-provider", "opensearch-provider"],
)
def test_the_log_cluster_keeps_its_scheme_and_credentials(written, hosts, monkeypatch):
    _conn_env(monkeypatch, "dify_log_store_test", written)
    config = connections.log_store("dify_log_store_test")
    assert config.hosts == hosts
    assert (config.username, config.password) == ("elastic", "s3cret!")
