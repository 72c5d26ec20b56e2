"""The cluster the workflow logs move to, and the one client that talks to it.

opensearch-py, not the official ``elasticsearch`` client: the official client (8+) sends its
vendor media type and checks the product header, which OpenSearch and OpenSearch-compatible
servers refuse, while opensearch-py sends plain JSON, which Elasticsearch 8/9 and OpenSearch 2/3
all accept for every call used here (_bulk, _mget, _count, _search, index templates, settings,
_cat/indices, cluster health). One client, one code path, whatever the cluster.

Credentials live in the Airflow connection (or Dify's ``.env``) and are handed to the client as
arguments; ``describe()`` shows hosts only, so nothing secret reaches a log or a report.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as TransportConnectionError
from opensearchpy.exceptions import TransportError

from dify_maintenance.core.errors import InvalidPolicy, MaintenanceError
from dify_maintenance.files.dify_storage import read_env_file

log = logging.getLogger(__name__)
# opensearch-py logs every request body at INFO on "opensearchpy.trace" (documents hold users'
# inputs and outputs) and every request on "opensearch": neither belongs in a task log
logging.getLogger("opensearchpy.trace").setLevel(logging.WARNING)
logging.getLogger("opensearch").setLevel(logging.WARNING)

# statuses worth another try: too many requests, and the server-side failures of a busy cluster
RETRY_STATUSES = frozenset({429, 502, 503, 504})


class ClusterUnavailable(MaintenanceError):
    """The cluster did not answer (or kept answering 429/5xx) through every back-off."""

    retryable = True


@dataclass(frozen=True)
class ClusterConfig:
    hosts: tuple[str, ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    verify_certs: bool = True
    ca_certs: str | None = None
    timeout: int = 30
    max_retries: int = 3
    index_prefix: str = "dify"
    retention_days: int = 30

    def describe(self) -> str:
        """The hosts without any user info: safe for logs, reports and the watermark key."""
        shown = []
        for host in self.hosts:
            parts = urlsplit(host if "://" in host else f"http://{host}")
            netloc = parts.hostname or ""
            if parts.port:
                netloc += f":{parts.port}"
            shown.append(urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", "")))
        return ",".join(shown)

    def client(self) -> OpenSearch:
        """A client that does not retry on its own: ``with_retries`` backs off between tries."""
        kwargs: dict[str, Any] = {
            "hosts": list(self.hosts),
            "timeout": self.timeout,
            "max_retries": 0,
            "verify_certs": self.verify_certs,
            "http_compress": False,
            # one connection per bulk request in flight (the form allows 16), plus the main thread's
            "pool_maxsize": 20,
        }
        if self.ca_certs:
            kwargs["ca_certs"] = self.ca_certs
        if self.api_key:
            kwargs["headers"] = {"Authorization": f"ApiKey {self.api_key}"}
        elif self.username:
            kwargs["http_auth"] = (self.username, self.password or "")
        return OpenSearch(**kwargs)


T = TypeVar("T")


def with_retries(config: ClusterConfig, what: str, call: Callable[[], T], sleep: Callable[[float], None] = time.sleep) -> T:
    """``call`` with back-off (1 s, 2 s, 4 s ... capped at 30 s) on a dropped connection, a
    timeout, 429 or 5xx; any other error is the caller's to report."""
    attempts = max(1, config.max_retries + 1)
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except TransportConnectionError as exc:
            reason = f"connection failed ({type(exc).__name__})"
        except TransportError as exc:
            if exc.status_code not in RETRY_STATUSES:
                raise
            reason = f"status {exc.status_code}"
        if attempt == attempts:
            raise ClusterUnavailable(f"{what}: the cluster {config.describe()} did not answer after {attempts} tries ({reason})")
        pause = min(30.0, 2.0 ** (attempt - 1))
        log.warning("%s: %s; try %d of %d in %.0f s", what, reason, attempt + 1, attempts, pause)
        sleep(pause)
    raise AssertionError("unreachable")


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _hosts(value: str) -> tuple[str, ...]:
    value = value.strip()
    if value.startswith("["):
        return tuple(str(h) for h in json.loads(value))
    return tuple(h.strip() for h in value.split(",") if h.strip())


def from_settings(env: Mapping[str, str]) -> ClusterConfig:
    """Dify's ``ELASTICSEARCH_*`` settings (the names of Dify's Elasticsearch guide)."""
    hosts = _hosts(env.get("ELASTICSEARCH_HOSTS", ""))
    if not hosts:
        raise InvalidPolicy("ELASTICSEARCH_HOSTS is not set in the Dify .env")
    use_ssl = _flag(env.get("ELASTICSEARCH_USE_SSL"), False)
    if use_ssl:
        hosts = tuple(h if "://" in h else f"https://{h}" for h in hosts)
    try:
        return ClusterConfig(
            hosts=hosts,
            username=env.get("ELASTICSEARCH_USERNAME") or None,
            password=env.get("ELASTICSEARCH_PASSWORD") or None,
            api_key=env.get("ELASTICSEARCH_API_KEY") or None,
            verify_certs=_flag(env.get("ELASTICSEARCH_VERIFY_CERTS"), True),
            ca_certs=env.get("ELASTICSEARCH_CA_CERTS") or None,
            timeout=int(env.get("ELASTICSEARCH_TIMEOUT") or 30),
            max_retries=int(env.get("ELASTICSEARCH_MAX_RETRIES") or 3),
            index_prefix=env.get("ELASTICSEARCH_INDEX_PREFIX") or "dify",
            retention_days=int(env.get("ELASTICSEARCH_RETENTION_DAYS") or 30),
        )
    except ValueError as exc:
        raise InvalidPolicy(f"an ELASTICSEARCH_* number in the Dify .env is not a number: {exc}") from None


def from_env_file(path: str | Path) -> ClusterConfig:
    return from_settings(read_env_file(Path(path)))


def from_connection(
    host: str | None, port: int | None, schema: str | None, login: str | None, password: str | None, extra: dict
) -> ClusterConfig:
    """An Airflow connection: ``host`` (and ``port``, ``schema`` = http/https) or ``extra.hosts``
    (a list); ``login``/``password`` or ``extra.api_key``; ``extra.verify_certs``, ``ca_certs``,
    ``timeout``, ``max_retries``, ``index_prefix``, ``retention_days``."""
    hosts = extra.get("hosts")
    if isinstance(hosts, str):
        hosts = _hosts(hosts)
    if not hosts:
        if not host:
            raise InvalidPolicy("the log-store connection names no host (set host, or hosts in its extra)")
        scheme = schema or ("https" if extra.get("use_ssl") else "http")
        hosts = (f"{scheme}://{host}:{port or 9200}",)
    try:
        return ClusterConfig(
            hosts=tuple(hosts),
            username=login or None,
            password=password or None,
            api_key=extra.get("api_key") or None,
            verify_certs=bool(extra.get("verify_certs", True)),
            ca_certs=extra.get("ca_certs") or None,
            timeout=int(extra.get("timeout", 30)),
            max_retries=int(extra.get("max_retries", 3)),
            index_prefix=str(extra.get("index_prefix", "dify")),
            retention_days=int(extra.get("retention_days", 30)),
        )
    except (TypeError, ValueError) as exc:
        raise InvalidPolicy(f"the log-store connection's extra has a malformed number: {exc}") from None


def health(client: OpenSearch, config: ClusterConfig) -> dict:
    """Cluster health, or a clear error when nothing answers."""
    found = with_retries(config, "cluster health", lambda: client.cluster.health())
    return {key: found.get(key) for key in ("cluster_name", "status", "number_of_nodes", "active_shards", "unassigned_shards")}
