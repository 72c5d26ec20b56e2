"""Find a PostgreSQL server to work against: a given URL, the local server on 127.0.0.1:5432,
or the embedded server from ``pgserver`` with its data in a git-ignored folder.

Used by the demo, the tests and the benchmarks; never by the DAGs (they use connections).
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg

from dify_maintenance import PROJECT_ROOT

LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
EMBEDDED_DIR = PROJECT_ROOT / ".pgdata"


def accepts_connections(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def embedded_url(data_dir: Path = EMBEDDED_DIR) -> str:
    """Start (or reuse) the embedded server; it keeps running for later commands."""
    import pgserver

    server = pgserver.get_server(str(data_dir), cleanup_mode=None)
    return server.get_uri("postgres")


def client_dir() -> str:
    """The bin folder of pgserver's PostgreSQL: its pg_dump/pg_restore fit the embedded server."""
    import pgserver

    return str(Path(pgserver.__file__).parent / "pginstall" / "bin")


def offer_clients() -> None:
    """Let the engine find pgserver's clients too (through ``$DIFY_MAINT_PG_BIN``), as on a
    worker with postgresql-client installed; the engine itself never looks for pgserver."""
    from dify_maintenance.database.pgclient import BIN_DIR_ENV

    dirs = [d for d in os.environ.get(BIN_DIR_ENV, "").split(os.pathsep) if d]
    if client_dir() not in dirs:
        os.environ[BIN_DIR_ENV] = os.pathsep.join([*dirs, client_dir()])


def admin_url(env_var: str) -> tuple[str, str]:
    """(url, where) for the server to create scratch databases on."""
    given = os.environ.get(env_var)
    if given:
        return given, f"${env_var}"
    if accepts_connections(LOCAL_URL):
        return LOCAL_URL, "local server 127.0.0.1:5432"
    return embedded_url(), f"embedded pgserver in {EMBEDDED_DIR}"


def server_major(url: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000
