"""Move workflow logs into the cluster: plan (what, per data type and month, and how big), then
one stream per data type and month, resumable from its watermark.

A stream reads its rows in (created_at, id) order (``reader``), sends ``_bulk`` requests of about
``batch_mb`` each with ``concurrency`` of them in flight, and after each acknowledged request, in
stream order, checkpoints the position of its last row. Documents are written with ``create``
under the row's primary key: a document already there is counted as such, never duplicated, so a
retry, a resume after SIGKILL or a rerun over the same window is always safe. A document the
cluster refuses is recorded with its id and reason; it is never skipped silently, and validation
then fails until it is in.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

import orjson
from opensearchpy import OpenSearch

from dify_maintenance.core import state
from dify_maintenance.core.db import Connector, connection, execute, fetch_all, fetch_one
from dify_maintenance.core.forms import Field, Form
from dify_maintenance.core.policy import UUID_RE
from dify_maintenance.core.schema import snapshot
from dify_maintenance.files.dify_storage import STORAGE_FIELDS
from dify_maintenance.logstore.cluster import ClusterConfig, ClusterUnavailable, with_retries
from dify_maintenance.logstore.documents import (
    DATA_TYPES,
    INDEX_SETTINGS,
    LAYOUTS,
    LOAD_REFRESH_INTERVAL,
    DataType,
    template_body,
    template_name,
)
from dify_maintenance.logstore.reader import Chunk, Fetch, Rejected, Window, chunks, offloads_of

log = logging.getLogger(__name__)

# Rows younger than this at the run's moment wait for the next run: a transaction still open may
# yet commit a row dated before the stream's watermark, which the stream would then never see.
SETTLE = timedelta(hours=1)
EPOCH = datetime(1970, 1, 1)
REPORTED_REJECTS = 100

LOG_MIGRATION_FORM = Form(
    "dify_log_migration",
    (
        Field("dry_run", "Dry run (estimate documents and bytes, write nothing)", "boolean", True, "Safety"),
        Field(
            "tenant_ids",
            "Tenants",
            "array",
            [],
            "Scope",
            "UUIDs, one per line. Empty: every tenant.",
            items={"type": "string", "pattern": UUID_RE.pattern},
        ),
        Field(
            "start_date",
            "From (inclusive, UTC)",
            "string",
            None,
            "Scope",
            "Empty: from the oldest row.",
            nullable=True,
            format="date",
        ),
        Field(
            "end_date",
            "Until (inclusive, UTC)",
            "string",
            None,
            "Scope",
            f"Empty: up to {int(SETTLE.total_seconds() // 3600)} h before the run (rows still being written wait for "
            "the next run).",
            nullable=True,
            format="date",
        ),
        Field(
            "data_types",
            "Data types",
            "array",
            list(DATA_TYPES),
            "Scope",
            "workflow_runs, app_logs, node_executions (offloaded payloads are inlined).",
            items={"type": "string", "enum": list(DATA_TYPES)},
            min_items=1,
        ),
        Field("batch_mb", "Bulk request size (MB)", "integer", 8, "Load", minimum=1, maximum=100),
        Field("concurrency", "Bulk requests in flight", "integer", 4, "Load", minimum=1, maximum=16),
        Field(
            "index_layout",
            "Index layout",
            "string",
            "per_tenant",
            "Indices",
            "per_tenant: Dify's names (<prefix>-workflow-runs-<tenant>-<YYYY.MM>), what Dify reads. monthly: one index "
            "per data type and month with a tenant_id field (many tenants make many tiny shards).",
            enum=LAYOUTS,
        ),
        Field(
            "index_prefix",
            "Index prefix",
            "string",
            None,
            "Indices",
            "Empty: the cluster's (ELASTICSEARCH_INDEX_PREFIX or the connection's index_prefix; dify).",
            nullable=True,
            pattern="^[a-z0-9][a-z0-9_.-]*$",
        ),
        Field("sample_size", "Validation sample per data type", "integer", 100, "Validation", minimum=0, maximum=10_000),
        Field(
            "create_index",
            "Create an index on created_at where missing",
            "boolean",
            False,
            "Load",
            "CREATE INDEX CONCURRENTLY (created_at, id): without one every segment of 100,000 rows reads the whole table.",
        ),
        Field("restart", "Restart (ignore watermarks, send everything again)", "boolean", False, "Load"),
        Field(
            "cluster_conn_id",
            "Cluster: Airflow connection",
            "string",
            "dify_log_store",
            "Cluster",
            "Hosts, login/password or api_key, TLS in the extra; ignored when a Dify .env is given.",
            nullable=True,
        ),
        *STORAGE_FIELDS,
    ),
)


def _day(value: str | None) -> datetime | None:
    return datetime.combine(date.fromisoformat(value), datetime.min.time()) if value else None


@dataclass(frozen=True)
class Request:
    dry_run: bool
    tenants: tuple[str, ...]
    window_start: datetime | None
    window_end: datetime
    data_types: tuple[str, ...]
    batch_bytes: int
    concurrency: int
    layout: str
    prefix: str
    sample_size: int
    create_index: bool
    restart: bool

    def to_dict(self) -> dict:
        data = asdict(self)
        data["window_start"] = self.window_start.isoformat() if self.window_start else None
        data["window_end"] = self.window_end.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict) -> Request:
        values = dict(data)
        values["window_start"] = datetime.fromisoformat(data["window_start"]) if data["window_start"] else None
        values["window_end"] = datetime.fromisoformat(data["window_end"])
        values["tenants"] = tuple(data["tenants"])
        values["data_types"] = tuple(data["data_types"])
        return cls(**values)


def _cross_checks(values: dict) -> list[str]:
    start, end = _day(values["start_date"]), _day(values["end_date"])
    if start and end and start > end:
        return [f"start_date {values['start_date']} is after end_date {values['end_date']}"]
    return []


def request_from(values: dict, cluster: ClusterConfig, moment: datetime) -> Request:
    """The form's values as a request, its window fixed from the run's moment (naive UTC)."""
    values = LOG_MIGRATION_FORM.checked(values, "log-migration", _cross_checks)
    now = (moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment) - SETTLE
    end = _day(values["end_date"])
    return Request(
        dry_run=values["dry_run"],
        tenants=tuple(sorted(str(uuid.UUID(t)) for t in values["tenant_ids"] or ())),
        window_start=_day(values["start_date"]),
        window_end=min(end + timedelta(days=1), now) if end else now,
        data_types=tuple(dt for dt in DATA_TYPES if dt in values["data_types"]),
        batch_bytes=values["batch_mb"] * 1_048_576,
        concurrency=values["concurrency"],
        layout=values["index_layout"],
        prefix=values["index_prefix"] or cluster.index_prefix,
        sample_size=values["sample_size"],
        create_index=values["create_index"],
        restart=values["restart"],
    )


def window_of(req: Request) -> Window:
    return Window(req.window_start or EPOCH, req.window_end, req.tenants)


def _next_month(moment: datetime) -> datetime:
    return (moment.replace(day=1) + timedelta(days=32)).replace(day=1)


def plan(connector: Connector, req: Request, client: OpenSearch | None, cluster: ClusterConfig) -> dict:
    """Per data type and month: rows, their bytes in PostgreSQL, and (node executions) the
    offloaded bytes to inline; whether an index serves the (created_at, id) order. A real run
    also puts the index templates; a dry run writes nothing anywhere."""
    window = window_of(req)
    partitions, notes, offload = [], [], {"bytes": 0, "files": 0}
    with connection(connector) as conn:
        snap = snapshot(conn)
        state.ensure_schema(conn)
        for name in req.data_types:
            dt = DATA_TYPES[name]
            if not snap.has_table(dt.table):
                notes.append(f"{dt.table}: not in this Dify version, skipped")
                continue
            index = fetch_one(conn, "logstore/created_at_index.sql", {"table": dt.table})
            if index is None and req.create_index and not req.dry_run:
                name_ = f"dify_maint_{dt.table[:30]}_created_at_id"
                execute(conn, "logstore/create_created_at_index.sql", name=name_, table=dt.table)
                notes.append(f"{dt.table}: built index {name_} (created_at, id) concurrently")
            elif index is None:
                notes.append(
                    f"{dt.table}: no index leads with created_at, so each segment of a stream reads the whole table; "
                    f"rerun with create_index, or CREATE INDEX CONCURRENTLY ON {dt.table} (created_at, id)"
                )
            for row in fetch_all(conn, "logstore/partitions.sql", window.params(), table=dt.table, tenants=bool(req.tenants)):
                month = row["month"]
                partitions.append(
                    {
                        "data_type": name,
                        "month": month.strftime("%Y.%m"),
                        "lo": max(month, window.lo).isoformat(),
                        "hi": min(_next_month(month), window.hi).isoformat(),
                        "rows": row["rows"],
                        "bytes": row["bytes"],
                        "tenants": row["tenants"],
                    }
                )
            if dt.offloads and snap.has_table("workflow_node_execution_offload"):
                offload = fetch_one(conn, "logstore/offload_bytes.sql", window.params(), tenants=bool(req.tenants)) or offload
    if client is not None and not req.dry_run:
        for name in req.data_types:
            dt = DATA_TYPES[name]
            with_retries(
                cluster,
                "put index template",
                lambda dt=dt: client.indices.put_index_template(
                    name=template_name(req.prefix, dt), body=template_body(req.prefix, dt)
                ),
            )
    return {
        "cluster": cluster.describe(),
        "request": req.to_dict(),
        "partitions": partitions,
        "documents": sum(p["rows"] for p in partitions),
        "bytes": sum(p["bytes"] for p in partitions) + int(offload["bytes"]),
        "offloaded_files": int(offload["files"]),
        "offloaded_bytes": int(offload["bytes"]),
        "notes": notes,
        "dry_run": req.dry_run,
    }


def stream_key(cluster: ClusterConfig, req: Request, data_type: str, month: str) -> str:
    """One stream per cluster, prefix, layout, data type, month, window start and tenants; the
    window's end is not part of it, so a later run carries on where this one stopped."""
    start = req.window_start.isoformat() if req.window_start else None
    raw = orjson.dumps([cluster.describe(), req.prefix, req.layout, data_type, month, start, list(req.tenants)])
    return hashlib.sha256(raw).hexdigest()[:32]


@dataclass
class Sent:
    created: int = 0
    existing: int = 0
    rejected: list[Rejected] = field(default_factory=list)


def _item_reason(result: dict) -> str:
    error = result.get("error") or {}
    if isinstance(error, dict):
        cause = error.get("caused_by") or {}
        why = f"{error.get('type')}: {error.get('reason')}"
        return (why + (f" ({cause.get('type')}: {cause.get('reason')})" if cause else ""))[:500]
    return str(error)[:500]


def send_chunk(client: OpenSearch, cluster: ClusterConfig, chunk: Chunk, sleep: Callable[[float], None] = time.sleep) -> Sent:
    """One ``_bulk`` request (retried with back-off as a whole on 429/5xx/connection loss, and
    item by item on a per-item 429); every other per-item error is a rejected document."""
    sent = Sent()
    pending = chunk.lines
    for attempt in range(1, cluster.max_retries + 2):
        body = b"".join(pending)
        response = with_retries(cluster, "bulk request", lambda body=body: client.bulk(body=body))
        if not response.get("errors"):
            sent.created += len(pending)
            return sent
        again = []
        for line, item in zip(pending, response["items"], strict=True):
            result = item.get("create") or next(iter(item.values()))
            status = result.get("status")
            if status in (200, 201):
                sent.created += 1
            elif status == 409:
                sent.existing += 1
            elif status == 429:
                again.append(line)
            else:
                sent.rejected.append(Rejected(str(result.get("_id")), str(result.get("_index")), _item_reason(result)))
        if not again:
            return sent
        pending = again
        sleep(min(30.0, 2.0 ** (attempt - 1)))
    raise ClusterUnavailable(f"the cluster {cluster.describe()} kept refusing {len(pending)} documents with 429")


_LOAD_SETTINGS = {"index": {"refresh_interval": LOAD_REFRESH_INTERVAL}}
_DIFY_SETTINGS = {"index": {"refresh_interval": INDEX_SETTINGS["refresh_interval"]}}


class _Indices:
    """The indices a stream writes: created from the template and set to the load's refresh
    interval on first use, put back to Dify's interval (and refreshed) at the end."""

    def __init__(self, client: OpenSearch, cluster: ClusterConfig) -> None:
        self.client, self.cluster, self.seen = client, cluster, set()

    def prepare(self, names: set[str]) -> None:
        for name in sorted(names - self.seen):
            with_retries(
                self.cluster, f"create index {name}", lambda name=name: self.client.indices.create(index=name, ignore=400)
            )
            with_retries(
                self.cluster, "relax refresh", lambda name=name: self.client.indices.put_settings(index=name, body=_LOAD_SETTINGS)
            )
            self.seen.add(name)

    def restore(self) -> None:
        for name in sorted(self.seen):
            with_retries(
                self.cluster,
                "restore refresh",
                lambda name=name: self.client.indices.put_settings(index=name, body=_DIFY_SETTINGS),
            )
            with_retries(self.cluster, "refresh", lambda name=name: self.client.indices.refresh(index=name))


_DONE = object()


def _produce(out: queue.Queue, stop: threading.Event, make_chunks: Callable[[], object]) -> None:
    """Read and serialize ahead of the senders; the bounded queue keeps memory flat."""
    try:
        for chunk in make_chunks():
            out.put(chunk)
            if stop.is_set():
                return
        out.put(_DONE)
    except BaseException as exc:  # handed to the consumer, which raises it
        out.put(exc)


def _drain(out: queue.Queue, producer: threading.Thread) -> None:
    """Let a producer blocked on a full queue see the stop flag (no timed waits: they would
    wait a year under the test suite's faketime)."""
    while producer.is_alive():
        try:
            out.get_nowait()
        except queue.Empty:
            time.sleep(0.01)


def migrate_partition(
    connector: Connector,
    client: OpenSearch,
    cluster: ClusterConfig,
    req: Request,
    part: dict,
    read: Fetch | None,
    on_checkpoint: Callable[[dict], None] | None = None,
) -> dict:
    """Stream one data type's month into the cluster from its watermark; returns the counts."""
    dt: DataType = DATA_TYPES[part["data_type"]]
    key = stream_key(cluster, req, dt.name, part["month"])
    window = Window(datetime.fromisoformat(part["lo"]), datetime.fromisoformat(part["hi"]), req.tenants)
    totals = {"created": 0, "existing": 0, "rejected": 0, "bulk_requests": 0, "bytes": 0}
    started = time.monotonic()
    with connection(connector) as state_conn, connection(connector) as read_conn:
        if req.restart:
            execute(state_conn, "logstore/watermark_reset.sql", {"stream_key": key})
            execute(state_conn, "logstore/rejects_clear.sql", {"stream_key": key})
        mark = fetch_one(state_conn, "logstore/watermark.sql", {"stream_key": key})
        after = (mark["after_at"], mark["after_id"]) if mark and mark["after_at"] else None
        base = {
            "stream_key": key,
            "cluster": cluster.describe(),
            "prefix": req.prefix,
            "layout": req.layout,
            "data_type": dt.name,
            "month": datetime.strptime(part["month"], "%Y.%m"),
            "tenants": list(req.tenants) or None,
        }

        def checkpoint(chunk: Chunk, sent: Sent) -> None:
            rejected = [*chunk.rejected, *sent.rejected]
            with state_conn.transaction():
                for r in rejected:
                    execute(
                        state_conn,
                        "logstore/reject_add.sql",
                        {"stream_key": key, "doc_id": r.doc_id, "index_name": r.index, "reason": r.reason},
                    )
                execute(
                    state_conn,
                    "logstore/watermark_save.sql",
                    {
                        **base,
                        "after_at": chunk.last[0] if chunk.last else None,
                        "after_id": chunk.last[1] if chunk.last else None,
                        "created": sent.created,
                        "existing": sent.existing,
                        "rejected": len(rejected),
                        "done": False,
                    },
                )
            totals["created"] += sent.created
            totals["existing"] += sent.existing
            totals["rejected"] += len(rejected)
            if on_checkpoint:
                on_checkpoint(dict(totals))

        indices = _Indices(client, cluster)
        out: queue.Queue = queue.Queue(maxsize=max(2, req.concurrency))
        stop = threading.Event()

        def make_chunks():
            return chunks(
                read_conn,
                dt,
                window,
                after,
                prefix=req.prefix,
                layout=req.layout,
                batch_bytes=req.batch_bytes,
                read=read,
                offloads=offloads_of(read_conn, dt),
            )

        producer = threading.Thread(target=_produce, args=(out, stop, make_chunks), name=f"read-{dt.name}", daemon=True)
        inflight: deque[tuple[Chunk, Future | None]] = deque()
        pool = ThreadPoolExecutor(max_workers=req.concurrency, thread_name_prefix=f"bulk-{dt.name}")

        def settle_oldest() -> None:
            chunk, future = inflight.popleft()
            checkpoint(chunk, future.result() if future else Sent())

        producer.start()
        try:
            while (item := out.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                if item.docs:
                    indices.prepare(item.indices)
                    totals["bulk_requests"] += 1
                    totals["bytes"] += item.size
                    inflight.append((item, pool.submit(send_chunk, client, cluster, item)))
                else:
                    inflight.append((item, None))
                while len(inflight) > req.concurrency or (inflight and inflight[0][1] is None):
                    settle_oldest()
            while inflight:
                settle_oldest()
            execute(
                state_conn,
                "logstore/watermark_save.sql",
                {**base, "after_at": None, "after_id": None, "created": 0, "existing": 0, "rejected": 0, "done": True},
            )
            indices.restore()
        finally:
            stop.set()
            _drain(out, producer)
            pool.shutdown(wait=True, cancel_futures=True)
        rejects = fetch_all(state_conn, "logstore/rejects.sql", {"stream_key": key, "limit": REPORTED_REJECTS})
        row = fetch_one(state_conn, "logstore/watermark.sql", {"stream_key": key})
    seconds = time.monotonic() - started
    result = {
        **{k: part[k] for k in ("data_type", "month", "rows")},
        **totals,
        "seconds": round(seconds, 3),
        "docs_per_second": round((totals["created"] + totals["existing"]) / seconds, 1) if seconds else None,
        "indices": sorted(indices.seen),
        "stream_key": key,
        "watermark": [row["after_at"].isoformat(), row["after_id"]] if row and row["after_at"] else None,
        "rejected_total": rejects[0]["total"] if rejects else 0,
        "rejects": [{"id": r["doc_id"], "index": r["index_name"], "reason": r["reason"]} for r in rejects],
    }
    log.info(
        "%s %s: %d created, %d already there, %d rejected, %d bulk requests, %.1f MB in %.1f s",
        dt.name,
        part["month"],
        totals["created"],
        totals["existing"],
        totals["rejected"],
        totals["bulk_requests"],
        totals["bytes"] / 1e6,
        seconds,
    )
    return result
