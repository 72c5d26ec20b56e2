"""Airflow connections, turned into what the engine takes: a ``DbTarget`` for the Dify database
and ``StoreConfig`` objects for the archive, backup and Dify storages.

Connections are resolved through the Task SDK (secrets backends included); libpq keywords and
store options are passed on as arguments, so a password never appears in a URL, argv or log. The
Dify database connection is read as the Postgres provider's hook reads it: every extra it passes
to libpq (sslmode, certificates, options, ...) reaches our sessions and pg_dump, and ``iam``
(AWS RDS/Redshift, or Entra through ``azure_conn_id``) gets its token from the hook.
"""

from __future__ import annotations

from airflow.configuration import conf
from airflow.providers.postgres.hooks.postgres import PostgresHook
from airflow.sdk import BaseHook

from dify_maintenance.core.db import DbTarget
from dify_maintenance.core.errors import MaintenanceError
from dify_maintenance.logstore import cluster as log_cluster
from dify_maintenance.storage.dify_storage import StorageConfigError, from_dify_env_file
from dify_maintenance.storage.stores import StoreConfig, default_store

# what the Postgres provider's hook takes out of the extra before the rest goes to libpq ("cursor"
# it turns into a cursor factory; ours is fixed)
_NOT_LIBPQ = frozenset(PostgresHook.ignored_extra_options) | {"cursor"}
POSTGRES_CONN_TYPES = ("postgres", "postgresql")
# object stores whose access key and secret may come from the connection's login and password
_KEYED_SCHEMES = ("s3", "oss", "obs", "cos")


def dify_database(conn_id: str) -> DbTarget:
    """The Dify database of an Airflow connection; fails clearly when the id is unknown."""
    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:  # the SDK raises its own not-found type; keep the message clear
        raise MaintenanceError(
            f"Airflow connection {conn_id!r} is not defined; create it (for example "
            f"AIRFLOW_CONN_{conn_id.upper()}) pointing at the Dify PostgreSQL database"
        ) from exc
    return target_of(conn)


def target_of(conn) -> DbTarget:
    """A ``DbTarget`` from any Airflow connection object (the Task SDK's in a task, the core
    model's in the api-server): libpq keywords, never a URL; what the Postgres hook would pass."""
    if (conn.conn_type or "postgres") not in POSTGRES_CONN_TYPES:
        raise MaintenanceError(
            f"Airflow connection {conn.conn_id!r} is of type {conn.conn_type!r}; the Dify database needs a "
            "postgres connection (host, port, schema = the database name, login, password)"
        )
    params: dict[str, object] = {
        "host": conn.host or None,
        "port": conn.port or None,
        "user": conn.login or None,
        "password": conn.password or None,
        "dbname": conn.schema or None,
    }
    extra = conn.extra_dejson or {}
    params.update({key: value for key, value in extra.items() if key not in _NOT_LIBPQ})
    credentials = None
    if extra.get("iam"):
        hook = PostgresHook(postgres_conn_id=conn.conn_id)

        def credentials() -> dict[str, object]:
            login, password, port = hook.get_iam_token(conn)
            return {"user": login, "password": password, "port": port}

    return DbTarget(params, credentials)


# executors whose tasks all run on this machine: a local folder outlives every task
LOCAL_EXECUTORS = ("LocalExecutor", "SequentialExecutor")


def store(conn_id: str, default: StoreConfig | None = None, *, local_shared: bool = False) -> StoreConfig:
    """A store from an Airflow connection's extra (``{"scheme": "s3", ...options}``). Without
    such a connection, the local default folder, but only where it outlives the task: under the
    local executors, or when the deployment declares it shared (``local_stores_shared``)."""
    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception:
        fallback = default or default_store()
        executor = conf.get("core", "executor", fallback="LocalExecutor")
        if not local_shared and not all(name.strip().split(".")[-1] in LOCAL_EXECUTORS for name in executor.split(",")):
            raise MaintenanceError(
                f"no Airflow connection {conn_id!r}, and its fallback, {fallback.describe()} on the worker, would be "
                f"lost with the worker under {executor}: create the connection (an object store), or, if that folder "
                "is storage every worker shares, set local_stores_shared to true in the Variable dify_maintenance_policy"
            ) from None
        return fallback
    extra = dict(conn.extra_dejson or {})
    scheme = extra.pop("scheme", None) or conn.conn_type
    prefix = extra.pop("prefix", "")
    if conn.login and "access_key_id" not in extra and scheme in _KEYED_SCHEMES:
        extra["access_key_id"] = conn.login
    if conn.password and "secret_access_key" not in extra and scheme in _KEYED_SCHEMES:
        extra["secret_access_key"] = conn.password
    return StoreConfig(scheme, {k: str(v) for k, v in extra.items()}, prefix)


def dify_storage(conn_id: str | None = None, dify_env_file: str | None = None) -> StoreConfig:
    """Dify's storage, named by an Airflow connection (OpenDAL scheme and options in its extra)
    or by the path of a Dify ``.env``; exactly one of the two."""
    if bool(conn_id) == bool(dify_env_file):
        raise StorageConfigError("name a storage either by an Airflow connection id or by a Dify .env file, not both or neither")
    if dify_env_file:
        return from_dify_env_file(dify_env_file)
    try:
        BaseHook.get_connection(conn_id)
    except Exception as exc:
        raise StorageConfigError(f"Airflow connection {conn_id!r} for a storage is not defined") from exc
    return store(conn_id)


# the connection types a cluster's address can come in (the providers' and the generic ones)
LOG_STORE_CONN_TYPES = frozenset({"generic", "http", "https", "elasticsearch", "opensearch"})


def log_store(conn_id: str | None = None, dify_env_file: str | None = None) -> log_cluster.ClusterConfig:
    """The Elasticsearch/OpenSearch cluster for workflow logs: Dify's ``.env`` (its
    ``ELASTICSEARCH_*`` settings) when given, else an Airflow connection."""
    if dify_env_file:
        return log_cluster.from_env_file(dify_env_file)
    if not conn_id:
        raise MaintenanceError("name the log cluster by an Airflow connection id or by a Dify .env file")
    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:
        raise MaintenanceError(
            f"Airflow connection {conn_id!r} for the log cluster is not defined; create it (for example "
            f"AIRFLOW_CONN_{conn_id.upper()}) with the cluster's host, or name a Dify .env"
        ) from exc
    if (conn.conn_type or "generic") not in LOG_STORE_CONN_TYPES:
        raise MaintenanceError(
            f"Airflow connection {conn_id!r} is of type {conn.conn_type!r}; the log cluster needs one of "
            f"{', '.join(sorted(LOG_STORE_CONN_TYPES))} (host, port, login/password or extra.api_key)"
        )
    return log_cluster.from_connection(
        conn.host, conn.port, conn.schema, conn.login, conn.password, conn.extra_dejson or {}, conn.conn_type
    )
