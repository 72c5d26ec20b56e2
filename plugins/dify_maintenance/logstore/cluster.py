"""The cluster the workflow logs move to, and the one client that talks to it.

opensearch-py, not the official ``elasticsearch`` client: the official client (8+) sends its
vendor media type and checks the product header, which OpenSearch and OpenSearch-compatible
servers refuse, while opensearch-py sends plain JSON, which Elasticsearch 8/9 and OpenSearch 2/3
all accept for every call used here (_bulk, _mget, _count, _search, index templates, settings,
_cat/indices, cluster health). One client, one code path, whatever the cluster.

Dify itself is pickier: its reader (elasticsearch-py 8) talks only to Elasticsearch 8/9, and it
reads only ``dify-<type>-<tenant>-<YYYY.MM>``. ``identify`` asks the cluster what it is (``GET
/``), so a migration elsewhere is labelled an export and cleanup-pg deletes nothing on its word.

Credentials live in the Airflow connection (or Dify's ``.env``) and are handed to the client as
arguments; ``describe()`` shows hosts only, so nothing secret reaches a log or a report.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from opensearchpy import OpenSearch
from opensearchpy.exceptions import ConnectionError as TransportConnectionError
from opensearchpy.exceptions import TransportError

from dify_maintenance.core.backoff import with_backoff
from dify_maintenance.core.errors import InvalidPolicy, MaintenanceError
from dify_maintenance.storage.dify_storage import read_env_file

log = logging.getLogger(__name__)
# opensearch-py logs every request body at INFO on "opensearchpy.trace" (documents hold users'
# inputs and outputs) and every request on "opensearch": neither belongs in a task log
logging.getLogger("opensearchpy.trace").setLevel(logging.WARNING)
logging.getLogger("opensearch").setLevel(logging.WARNING)

# statuses worth another try: too many requests, and the server-side failures of a busy cluster
RETRY_STATUSES = frozenset({429, 502, 503, 504})


# Elasticsearch's rules for an index name (lowercase; none of \\ / * ? " < > | , # : or a space;
# not starting with - _ +), kept to what our names need; the longest of our names adds 70
# characters to the prefix and an index name may have 255 bytes.
PREFIX_PATTERN = "^[a-z0-9][a-z0-9_.-]*$"
PREFIX_MAX = 100
DIFY_PREFIX = "dify"
# Elasticsearch's and OpenSearch's default http.max_content_length
DEFAULT_MAX_CONTENT = 100 * 1024 * 1024


def check_prefix(prefix: str, where: str = "index_prefix") -> str:
    """The prefix, or a clear error before anything is sent: a wildcard or comma would widen
    every pattern built from it (index retention would list other indices), and a long one makes
    names the cluster refuses."""
    if not isinstance(prefix, str) or not re.fullmatch(PREFIX_PATTERN, prefix) or len(prefix) > PREFIX_MAX:
        raise InvalidPolicy(
            f"{where} {prefix!r} is not a usable index prefix: lowercase letters, digits, '_', '.', '-' "
            f"(starting with a letter or digit), at most {PREFIX_MAX} characters"
        )
    return prefix


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
    index_prefix: str = DIFY_PREFIX
    retention_days: int = 30

    def __post_init__(self) -> None:
        check_prefix(self.index_prefix, "the cluster's index prefix")

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
    return with_backoff(
        call,
        what=what,
        retries=max(0, config.max_retries),
        retryable=_worth_retrying,
        give_up=lambda exc, tries: ClusterUnavailable(
            f"{what}: the cluster {config.describe()} did not answer after {tries} tries ({_worth_retrying(exc)})"
        ),
        sleep=sleep,
    )


def _worth_retrying(exc: BaseException) -> str | None:
    """A dropped connection, a timeout, 429 or 5xx: the cluster may answer a moment later."""
    if isinstance(exc, TransportConnectionError):
        return f"connection failed ({type(exc).__name__})"
    if isinstance(exc, TransportError) and exc.status_code in RETRY_STATUSES:
        return f"status {exc.status_code}"
    return None


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
            index_prefix=env.get("ELASTICSEARCH_INDEX_PREFIX") or DIFY_PREFIX,
            retention_days=int(env.get("ELASTICSEARCH_RETENTION_DAYS") or 30),
        )
    except ValueError as exc:
        raise InvalidPolicy(f"an ELASTICSEARCH_* number in the Dify .env is not a number: {exc}") from None


def from_env_file(path: str | Path) -> ClusterConfig:
    return from_settings(read_env_file(Path(path)))


def connection_scheme(conn_type: str | None, schema: str | None, extra: dict) -> str:
    """http or https, as each way of writing the connection says it: the URI's own scheme
    (``https://user:pw@es:9243`` is conn_type https), the Elasticsearch provider's
    ``extra.scheme``, the OpenSearch provider's ``extra.use_ssl``, or the schema field."""
    for said in (conn_type, extra.get("scheme"), schema):
        if str(said or "").lower() in ("http", "https"):
            return str(said).lower()
    use_ssl = extra.get("use_ssl")
    return "https" if use_ssl is True or str(use_ssl).lower() in ("true", "1", "yes") else "http"


def from_connection(
    host: str | None,
    port: int | None,
    schema: str | None,
    login: str | None,
    password: str | None,
    extra: dict,
    conn_type: str | None = None,
) -> ClusterConfig:
    """An Airflow connection: ``host`` (and ``port``, the scheme as ``connection_scheme`` reads
    it) or ``extra.hosts`` (a list); ``login``/``password`` or ``extra.api_key``;
    ``extra.verify_certs``, ``ca_certs``, ``timeout``, ``max_retries``, ``index_prefix``,
    ``retention_days``."""
    hosts = extra.get("hosts")
    if isinstance(hosts, str):
        hosts = _hosts(hosts)
    if not hosts:
        if not host:
            raise InvalidPolicy("the log-store connection names no host (set host, or hosts in its extra)")
        hosts = (f"{connection_scheme(conn_type, schema, extra)}://{host}:{port or 9200}",)
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
            index_prefix=str(extra.get("index_prefix", DIFY_PREFIX)),
            retention_days=int(extra.get("retention_days", 30)),
        )
    except (TypeError, ValueError) as exc:
        raise InvalidPolicy(f"the log-store connection's extra has a malformed number: {exc}") from None


def health(client: OpenSearch, config: ClusterConfig) -> dict:
    """Cluster health, or a clear error when nothing answers."""
    found = with_retries(config, "cluster health", lambda: client.cluster.health())
    return {key: found.get(key) for key in ("cluster_name", "status", "number_of_nodes", "active_shards", "unassigned_shards")}


@dataclass(frozen=True)
class ClusterInfo:
    """What the cluster says it is (``GET /``) and the biggest request it takes."""

    product: str  # elasticsearch, opensearch or unknown
    version: str
    uuid: str
    name: str
    max_content_length: int = DEFAULT_MAX_CONTENT

    @property
    def major(self) -> int:
        head = self.version.split(".", 1)[0]
        return int(head) if head.isdigit() else 0

    def describe(self) -> str:
        return f"{self.product} {self.version} (cluster {self.name}, uuid {self.uuid})"

    def not_readable_by_dify(self, prefix: str, layout: str) -> list[str]:
        """Why Dify could not read documents written here with this prefix and layout (empty:
        it can). Dify's client speaks only to Elasticsearch 8/9 and reads only the prefix
        ``dify`` with one index per tenant and month."""
        why = []
        if self.product != "elasticsearch" or self.major not in (8, 9):
            why.append(f"Dify reads only Elasticsearch 8/9, this is {self.product} {self.version}")
        if prefix != DIFY_PREFIX:
            why.append(f"Dify reads only the prefix {DIFY_PREFIX!r}, not {prefix!r}")
        if layout != "per_tenant":
            why.append(f"Dify reads only per-tenant indices, not the {layout} layout")
        return why

    def to_dict(self) -> dict:
        return {
            "product": self.product,
            "version": self.version,
            "uuid": self.uuid,
            "name": self.name,
            "max_content_length": self.max_content_length,
        }


_UNITS = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}


def parse_bytes(value: object) -> int | None:
    """``100mb`` (Elasticsearch's byte-size setting) as bytes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?b)?\s*", str(value).lower())
    if not m:
        return None
    return int(float(m.group(1)) * _UNITS[m.group(2) or "b"])


def _max_content_length(client: OpenSearch, config: ClusterConfig) -> int:
    try:
        found = with_retries(
            config, "cluster settings", lambda: client.cluster.get_settings(include_defaults=True, flat_settings=True)
        )
    except TransportError as exc:  # a user without cluster:monitor: assume the default, say so
        log.warning("could not read the cluster's settings (status %s); assuming a 100 MB request limit", exc.status_code)
        return DEFAULT_MAX_CONTENT
    for section in ("transient", "persistent", "defaults"):
        value = (found.get(section) or {}).get("http.max_content_length")
        if value is not None and (size := parse_bytes(value)):
            return size
    return DEFAULT_MAX_CONTENT


def identify(client: OpenSearch, config: ClusterConfig) -> ClusterInfo:
    """The cluster's product, version, UUID and request limit, as it answers now."""
    found = with_retries(config, "cluster info", lambda: client.info())
    version = found.get("version") or {}
    distribution = str(version.get("distribution") or "").lower()
    if distribution == "opensearch" or "opensearch" in str(found.get("tagline", "")).lower():
        product = "opensearch"
    elif not distribution and "for search" in str(found.get("tagline", "")).lower():
        product = "elasticsearch"
    else:
        product = distribution or "unknown"
    return ClusterInfo(
        product=product,
        version=str(version.get("number") or "?"),
        uuid=str(found.get("cluster_uuid") or ""),
        name=str(found.get("cluster_name") or ""),
        max_content_length=_max_content_length(client, config),
    )
