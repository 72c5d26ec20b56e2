"""Connections to the Dify database (``DbTarget``) and running our SQL templates on them.

The engine takes a ``Connector`` (a zero-argument callable returning a new psycopg connection)
so that tests, the demo and Airflow tasks share every code path.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import contextmanager

import psycopg
from psycopg.rows import dict_row

from dify_maintenance.core.errors import MaintenanceError
from dify_maintenance.core.sqltemplates import render

Connector = Callable[[], psycopg.Connection]

APPLICATION_NAME = "dify-maintenance"


class DbTarget:
    """A Dify database to connect to: calling it opens a new psycopg connection.

    Keeps the libpq keywords (never a URL string with the password inside) so that client
    programs such as ``pg_dump`` get them through the environment, not through argv.
    ``credentials`` (a cloud IAM or Entra token, which expires within minutes) is asked again
    for every connection and every client program, so a run of hours never holds a stale one.
    """

    def __init__(self, params: dict[str, object], credentials: Callable[[], dict[str, object]] | None = None) -> None:
        self._params = {k: v for k, v in params.items() if v not in (None, "")}
        self._credentials = credentials

    def _current(self) -> dict[str, object]:
        if self._credentials is None:
            return self._params
        return {**self._params, **{k: v for k, v in self._credentials().items() if v not in (None, "")}}

    def __call__(self) -> psycopg.Connection:
        return psycopg.connect(**self._current(), application_name=APPLICATION_NAME, row_factory=dict_row)

    def __repr__(self) -> str:  # never show the password
        return f"DbTarget({self.describe()})"

    @property
    def dbname(self) -> str:
        return str(self._params.get("dbname") or self._params.get("user") or "")

    def describe(self) -> str:
        host = self._params.get("host", "localhost")
        port = self._params.get("port", 5432)
        return f"{self._params.get('user', '')}@{host}:{port}/{self.dbname}"

    def with_database(self, dbname: str) -> DbTarget:
        return DbTarget({**self._params, "dbname": dbname}, self._credentials)

    def libpq_env(self) -> dict[str, str]:
        """PG* variables for client programs; the password travels only here (or a pgpass file)."""
        env = {"PGAPPNAME": APPLICATION_NAME}
        for key, value in self._current().items():
            name = _LIBPQ_ENV.get(key)
            if name:
                env[name] = str(value)
        return env


# libpq keyword -> environment variable (https://www.postgresql.org/docs/current/libpq-envars.html)
_LIBPQ_ENV = {
    "host": "PGHOST",
    "hostaddr": "PGHOSTADDR",
    "port": "PGPORT",
    "dbname": "PGDATABASE",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "passfile": "PGPASSFILE",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "options": "PGOPTIONS",
}


def url_connector(url: str) -> DbTarget:
    """A connector for a libpq URL (tests, the demo, benchmarks)."""
    return DbTarget(psycopg.conninfo.conninfo_to_dict(url))


@contextmanager
def connection(connector: Connector, *, autocommit: bool = True) -> Generator[psycopg.Connection]:
    """Open a connection and always close it; a failed connect becomes an operator message.

    Autocommit by default: every transaction is an explicit ``conn.transaction()`` block, so a
    stray read can never turn a later block into a savepoint of a transaction nobody commits.
    """
    try:
        conn = connector()
    except psycopg.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MaintenanceError(f"cannot connect to the Dify database: {first_line}") from exc
    try:
        conn.autocommit = autocommit
        yield conn
    finally:
        conn.close()


def fetch_all(conn: psycopg.Connection, template: str, params: dict | None = None, **context: object) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(render(template, **context), params or {})
        return list(cur.fetchall()) if cur.description else []


def fetch_one(conn: psycopg.Connection, template: str, params: dict | None = None, **context: object) -> dict | None:
    rows = fetch_all(conn, template, params, **context)
    return rows[0] if rows else None


def execute(conn: psycopg.Connection, template: str, params: dict | None = None, **context: object) -> int:
    with conn.cursor() as cur:
        cur.execute(render(template, **context), params or {})
        return cur.rowcount
