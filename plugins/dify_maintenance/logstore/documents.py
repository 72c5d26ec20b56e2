"""What a workflow-log row becomes in the cluster: its index, its document, its mapping.

Names and shapes follow Dify's Elasticsearch repositories (branch test/log-refactor), so Dify reads what
we write: monthly per-tenant indices ``<prefix>-workflow-runs-<tenant_id>-<YYYY.MM>``, the
document id is the row's primary key, ``workflow_run_id`` of a node execution is
``workflow_execution_id`` and its ``execution_metadata`` is ``metadata``, JSON payloads are
objects that are stored but not indexed field by field. As Dify's writer does: a NULL is left
out, an empty string stays (Dify's node list reads ``source["title"]`` and fails the whole run's
list on a missing key), datetimes are naive ISO 8601 in UTC (Dify parses them with
``datetime.fromisoformat`` and does arithmetic with its own naive values; an offset or a ``Z``
would raise there). A payload that JSON cannot carry (``NaN``, ``Infinity``) or that is not JSON
at all is refused with the row's id: Dify's reader would fail on it, so it is never sent.

Explicit mappings with ``dynamic: false``: a column a newer Dify adds still travels in
``_source`` (and validation compares it), but never becomes a mapped field, so the guide's cap of
2,000 fields cannot be reached by payload keys.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

from dify_maintenance.core.moments import naive_utc

LAYOUTS = ("per_tenant", "monthly")
# Dify's repositories create their indices with these; the load relaxes refresh (below)
INDEX_SETTINGS = {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "5s"}
LOAD_REFRESH_INTERVAL = "30s"

_KEYWORD = {"type": "keyword"}
_DATE = {"type": "date"}
_PAYLOAD = {"type": "object", "enabled": False}
_TEXT = {"type": "text"}


@dataclass(frozen=True)
class DataType:
    """One kind of workflow log: the table it lives in and the index family it moves to."""

    name: str
    table: str
    index_stem: str
    properties: dict
    renames: tuple[tuple[str, str], ...] = ()
    payloads: tuple[str, ...] = ()  # JSON text columns that become objects
    offloads: bool = False  # large payloads live in storage (workflow_node_execution_offload)

    def field(self, column: str) -> str:
        return dict(self.renames).get(column, column)


WORKFLOW_RUNS = DataType(
    "workflow_runs",
    "workflow_runs",
    "workflow-runs",
    {
        **{k: _KEYWORD for k in ("id", "tenant_id", "app_id", "workflow_id", "type", "triggered_from", "version", "status")},
        **{k: _KEYWORD for k in ("created_by_role", "created_by")},
        **{k: _PAYLOAD for k in ("graph", "inputs", "outputs")},
        "error": _TEXT,
        "elapsed_time": {"type": "float"},
        "total_tokens": {"type": "long"},
        "total_steps": {"type": "integer"},
        "exceptions_count": {"type": "integer"},
        "created_at": _DATE,
        "finished_at": _DATE,
    },
    payloads=("graph", "inputs", "outputs"),
)

APP_LOGS = DataType(
    "app_logs",
    "workflow_app_logs",
    "workflow-app-logs",
    {
        **{
            k: _KEYWORD
            for k in (
                "id",
                "tenant_id",
                "app_id",
                "workflow_id",
                "workflow_run_id",
                "created_from",
                "created_by_role",
                "created_by",
            )
        },
        "created_at": _DATE,
    },
)

NODE_EXECUTIONS = DataType(
    "node_executions",
    "workflow_node_executions",
    "workflow-node-executions",
    {
        **{
            k: _KEYWORD
            for k in (
                "id",
                "tenant_id",
                "app_id",
                "workflow_id",
                "workflow_execution_id",
                "node_execution_id",
                "triggered_from",
                "predecessor_node_id",
                "node_id",
                "node_type",
                "status",
                "created_by_role",
                "created_by",
            )
        },
        "index": {"type": "integer"},
        "title": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}},
        **{k: _PAYLOAD for k in ("inputs", "process_data", "outputs", "metadata")},
        "error": _TEXT,
        "elapsed_time": {"type": "float"},
        "created_at": _DATE,
        "finished_at": _DATE,
    },
    renames=(("workflow_run_id", "workflow_execution_id"), ("execution_metadata", "metadata")),
    payloads=("inputs", "process_data", "outputs", "execution_metadata"),
    offloads=True,
)

DATA_TYPES = {dt.name: dt for dt in (WORKFLOW_RUNS, APP_LOGS, NODE_EXECUTIONS)}


def month_label(moment: datetime | date) -> str:
    return f"{moment.year:04d}.{moment.month:02d}"


def index_name(prefix: str, dt: DataType, layout: str, tenant_id: str, month: str) -> str:
    """Dify's name (per tenant) or one index per data type and month with a tenant field."""
    if layout == "per_tenant":
        return f"{prefix}-{dt.index_stem}-{tenant_id}-{month}"
    return f"{prefix}-{dt.index_stem}-{month}"


def index_pattern(prefix: str, dt: DataType) -> str:
    return f"{prefix}-{dt.index_stem}-*"


def template_name(prefix: str, dt: DataType) -> str:
    """Our own name: Dify puts templates named ``dify-<stem>-template`` at every start (no
    priority, dynamic mapping); under its name each would overwrite the other. Ours has a higher
    priority, so indices this package creates get our mapping, and Dify's template stays Dify's."""
    return f"dify-maintenance-{prefix}-{dt.index_stem}"


def dify_template_name(prefix: str, dt: DataType) -> str:
    """The name Dify gives its own template (and that older versions of this package used)."""
    return f"{prefix}-{dt.index_stem}-template"


def template_body(prefix: str, dt: DataType) -> dict:
    return {
        "index_patterns": [index_pattern(prefix, dt)],
        "priority": 200,
        "template": {
            "settings": {"index": dict(INDEX_SETTINGS, **{"mapping.total_fields.limit": 2000})},
            "mappings": {"dynamic": False, "properties": dt.properties},
        },
        "_meta": {"managed_by": "dify-maintenance"},
    }


class Refused(Exception):
    """A row whose document cannot be written as Dify reads it; the reason names the column."""


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        # Dify's convention: naive UTC, no offset
        if value.tzinfo is not None:
            value = naive_utc(value)
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _constant(name: str) -> Any:
    raise ValueError(name)


def payload(text: Any, column: str = "payload") -> Any:
    """A JSON text column as the object it holds. An empty text is no payload (Dify reads it so);
    ``NaN``/``Infinity`` or text that is not JSON is refused: Dify's reader could not load it."""
    if not isinstance(text, str):
        return text
    if text == "":
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        json.loads(text, parse_constant=_constant)
    except ValueError as exc:
        if str(exc) in ("NaN", "Infinity", "-Infinity"):
            raise Refused(f"{column} holds {exc}, which JSON cannot carry (Dify's reader fails on it)") from None
        raise Refused(f"{column} is not JSON ({str(exc)[:80]}); Dify's reader could not load it") from None
    # valid for Python's json but not for orjson (say, a lone surrogate): Dify's reader fails too
    raise Refused(f"{column} is not JSON that Elasticsearch accepts") from None


def to_document(dt: DataType, row: dict[str, Any], inlined: dict[str, Any] | None = None) -> dict[str, Any]:
    """The document for ``row``; ``inlined`` maps a payload column to the content read from
    storage for an offloaded payload (it replaces the truncated copy in the row). Raises
    ``Refused`` for a payload Dify could not read back."""
    doc: dict[str, Any] = {}
    for column, value in row.items():
        if inlined and column in inlined:
            value = inlined[column]
        elif column in dt.payloads:
            value = payload(value, column)
        if value is None:
            continue
        doc[dt.field(column)] = _value(value)
    return doc


def serialize(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc)


def normalized(doc: dict[str, Any]) -> Any:
    """A document as JSON types only, so a cluster's ``_source`` and a fresh rendering of the
    row compare equal exactly when they hold the same data."""
    return orjson.loads(orjson.dumps(doc))


def content_hash(doc: Any) -> str:
    """The hash of a document's content (keys sorted): equal for a row's fresh document and the
    cluster's ``_source`` exactly when they hold the same data."""
    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()


_FLOAT_TYPES = ("numeric", "double precision", "real")


def row_from_json(values: dict[str, Any], types: dict[str, str]) -> dict[str, Any]:
    """A row as ``row_to_json`` wrote it, with the values psycopg would have returned where the
    document's rendering differs: timestamps parsed, numerics as floats. (The purge streams the
    rows it deletes as JSON; cleanup-pg proves each one's document from them.)"""
    row = {}
    for column, value in values.items():
        kind = types.get(column, "")
        if value is not None and kind.startswith("timestamp"):
            value = datetime.fromisoformat(value)
        elif value is not None and kind.startswith(_FLOAT_TYPES):
            value = float(value)
        row[column] = value
    return row
