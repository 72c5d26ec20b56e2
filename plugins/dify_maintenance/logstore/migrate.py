"""Move workflow logs into the cluster: plan (what, per data type and month, and how big), then
one stream per data type and month, resumable from its watermark, then a pass over what the
stream had already sent.

A stream reads its rows in (created_at, id) order (``reader``), sends ``_bulk`` requests of about
``batch_mb`` each with at most ``concurrency`` of them in flight (the months of a run go one
after another, so that is the run's number), and after each acknowledged request, in stream
order, checkpoints the position of its last row. Documents are written with ``index`` under the
row's primary key, as Dify's own writer does: a retry, a resume after SIGKILL or a rerun writes
the same document again, never a second one.

The pass: a row committed late with an old ``created_at`` sits behind the watermark, a run that
was paused at migration finishes afterwards, an index is dropped; a watermark sees none of it. So
every run also walks the stream's rows up to its watermark, looks their ids up in the cluster and
rewrites each one that is missing there or was written since the stream's last pass began (its
``xmin``). A document the cluster refuses, or that cannot be made (a payload Dify's reader could
not load, an offload without its file, a document over the cluster's request limit), is recorded
with its id and reason and the stream moves on; validation then fails naming it.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

import orjson
import psycopg
from opensearchpy import OpenSearch
from opensearchpy.exceptions import TransportError

from dify_maintenance.core import state
from dify_maintenance.core.db import Connector, connection, execute, fetch_all, fetch_one
from dify_maintenance.core.memory import return_big_buffers
from dify_maintenance.core.moments import naive_utc
from dify_maintenance.core.schema import snapshot
from dify_maintenance.core.sqltemplates import render
from dify_maintenance.logstore.cluster import ClusterConfig, ClusterInfo, ClusterUnavailable, check_prefix, with_retries
from dify_maintenance.logstore.documents import (
    DATA_TYPES,
    INDEX_SETTINGS,
    LOAD_REFRESH_INTERVAL,
    DataType,
    dify_template_name,
    index_name,
    month_label,
    template_body,
    template_name,
)
from dify_maintenance.logstore.forms import LOG_MIGRATION_FORM, SETTLE
from dify_maintenance.logstore.reader import (
    Chunk,
    Chunker,
    Fetch,
    Rejected,
    Window,
    chunks,
    documents_of,
    offloads_of,
    oversize_reason,
    pages,
    table_columns,
)

log = logging.getLogger(__name__)

EPOCH = datetime(1970, 1, 1)
REPORTED_REJECTS = 100
# ids looked up per _mget by the pass (without their documents: a few KB per request)
PASS_IDS = 1_000


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


def request_from(values: dict, cluster: ClusterConfig, db_now: datetime) -> Request:
    """The form's values as a request, its window ending ``SETTLE`` before the database's now:
    the database's clock, not the run's logical date, so a run triggered for a date ahead never
    takes rows that are still being written."""
    values = LOG_MIGRATION_FORM.checked(values, "log-migration", _cross_checks)
    settled = naive_utc(db_now) - SETTLE
    end = _day(values["end_date"])
    return Request(
        dry_run=values["dry_run"],
        tenants=tuple(sorted(str(uuid.UUID(t)) for t in values["tenant_ids"] or ())),
        window_start=_day(values["start_date"]),
        window_end=min(end + timedelta(days=1), settled) if end else settled,
        data_types=tuple(dt for dt in DATA_TYPES if dt in values["data_types"]),
        batch_bytes=values["batch_mb"] * 1_048_576,
        concurrency=values["concurrency"],
        layout=values["index_layout"],
        prefix=check_prefix(values["index_prefix"] or cluster.index_prefix),
        create_index=values["create_index"],
        restart=values["restart"],
    )


def database_now(connector: Connector) -> datetime:
    with connection(connector) as conn:
        return naive_utc(fetch_one(conn, "introspect/server.sql")["now"])


def window_of(req: Request) -> Window:
    return Window(req.window_start or EPOCH, req.window_end, req.tenants)


def _next_month(moment: datetime) -> datetime:
    return (moment.replace(day=1) + timedelta(days=32)).replace(day=1)


def _put_templates(client: OpenSearch, cluster: ClusterConfig, req: Request) -> list[str]:
    """Our templates under our names; a template of ours left under Dify's name (by an older
    version of this package) is removed, so Dify's own stays Dify's."""
    notes = []
    for name in req.data_types:
        dt = DATA_TYPES[name]
        with_retries(
            cluster,
            "put index template",
            lambda dt=dt: client.indices.put_index_template(
                name=template_name(req.prefix, dt), body=template_body(req.prefix, dt)
            ),
        )
        old = dify_template_name(req.prefix, dt)
        found = with_retries(
            cluster, "get index template", lambda old=old: client.indices.get_index_template(name=old, ignore=404)
        )
        for entry in (found or {}).get("index_templates", []):
            if (entry.get("index_template", {}).get("_meta") or {}).get("managed_by") == "dify-maintenance":
                with_retries(cluster, "delete index template", lambda old=old: client.indices.delete_index_template(name=old))
                notes.append(f"removed this package's template {old} (the name is Dify's own)")
    return notes


def plan(
    connector: Connector, req: Request, client: OpenSearch | None, cluster: ClusterConfig, info: ClusterInfo | None = None
) -> dict:
    """Per data type and month: rows, their bytes in PostgreSQL, and (node executions) the
    offloaded bytes to inline; whether an index serves the (created_at, id) order; whether Dify
    can read the result. A real run also puts the index templates; a dry run writes nothing."""
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
    not_readable = info.not_readable_by_dify(req.prefix, req.layout) if info else []
    if not_readable:
        notes.append("NOT READABLE BY DIFY (an export): " + "; ".join(not_readable) + ". cleanup-pg will not delete on it.")
    if client is not None and not req.dry_run:
        notes.extend(_put_templates(client, cluster, req))
    return {
        "cluster": cluster.describe(),
        "cluster_info": info.to_dict() if info else None,
        "readable_by_dify": info is not None and not not_readable,
        "not_readable_by_dify": not_readable,
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
    updated: int = 0
    rejected: list[Rejected] = field(default_factory=list)


def _item_reason(result: dict) -> str:
    error = result.get("error") or {}
    if isinstance(error, dict):
        cause = error.get("caused_by") or {}
        why = f"{error.get('type')}: {error.get('reason')}"
        return (why + (f" ({cause.get('type')}: {cause.get('reason')})" if cause else ""))[:500]
    return str(error)[:500]


def _line_ref(line: bytes) -> tuple[str, str]:
    action = orjson.loads(line[: line.index(b"\n")])
    target = next(iter(action.values()))
    return str(target.get("_id")), str(target.get("_index"))


def send_chunk(client: OpenSearch, cluster: ClusterConfig, chunk: Chunk, sleep: Callable[[float], None] = time.sleep) -> Sent:
    """One ``_bulk`` request (retried with back-off as a whole on 429/5xx/connection loss, and
    item by item on a per-item 429); every other per-item error is a rejected document. A
    request the cluster finds too large (413) is split in halves; a single document it still
    refuses is a reject, never a wall."""
    return _send_lines(client, cluster, chunk.lines, sleep)


def _send_lines(client: OpenSearch, cluster: ClusterConfig, lines: list[bytes], sleep: Callable[[float], None]) -> Sent:
    sent = Sent()
    pending = lines
    for attempt in range(1, cluster.max_retries + 2):
        body = pending[0] if len(pending) == 1 else b"".join(pending)
        try:
            response = with_retries(cluster, "bulk request", lambda body=body: client.bulk(body=body))
        except TransportError as exc:
            if exc.status_code != 413:
                raise
            del body
            if len(pending) == 1:
                doc_id, index = _line_ref(pending[0])
                sent.rejected.append(Rejected(doc_id, index, oversize_reason(len(pending[0]), len(pending[0]) - 1)))
                return sent
            half = len(pending) // 2
            for part in (pending[:half], pending[half:]):
                more = _send_lines(client, cluster, part, sleep)
                sent.created += more.created
                sent.updated += more.updated
                sent.rejected.extend(more.rejected)
            return sent
        del body
        again = []
        for line, item in zip(pending, response["items"], strict=True):
            result = item.get("index") or next(iter(item.values()))
            status = result.get("status")
            if status == 201:
                sent.created += 1
            elif status == 200:
                sent.updated += 1
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


class _Budget:
    """Bytes of documents between the reader and an acknowledged request: the reader waits while
    they would pass the limit (one document bigger than the limit goes alone), and first tells
    the sender (``wake``) to settle its oldest request rather than wait for the next chunk. No
    timed waits: they would wait a year under the test suite's faketime."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used, self.closed = limit, 0, False
        self.cond = threading.Condition()

    def take(self, size: int, wake: Callable[[], None]) -> bool:
        with self.cond:
            while not self.closed and self.used and self.used + size > self.limit:
                wake()  # every time: one settled request may not free enough
                self.cond.wait()
            self.used += size
            return not self.closed

    def give(self, size: int) -> None:
        with self.cond:
            self.used -= size
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()


_DONE = object()
_WAKE = object()


def _produce(out: queue.Queue, budget: _Budget, make_chunks: Callable[[], Iterator[Chunk]]) -> None:
    """Read and serialize ahead of the senders, as far as the byte budget allows."""
    try:
        for chunk in make_chunks():
            if not budget.take(chunk.size, lambda: out.put(_WAKE)):
                return
            out.put(chunk)
        out.put(_DONE)
    except BaseException as exc:  # handed to the consumer, which raises it
        out.put(exc)


class _Stream:
    """One stream's state between its checkpoints: the watermark row, counters, rejects."""

    def __init__(self, state_conn: psycopg.Connection, key: str, base: dict) -> None:
        self.conn, self.key, self.base = state_conn, key, base
        self.totals = {"created": 0, "updated": 0, "rejected": 0, "refreshed": 0, "late": 0, "bulk_requests": 0, "bytes": 0}

    def record(self, chunk: Chunk, sent: Sent, *, move: bool) -> None:
        """After an acknowledged request: its rejects, and (in stream order) the watermark."""
        rejected = [*chunk.rejected, *sent.rejected]
        with self.conn.transaction():
            for r in rejected:
                execute(
                    self.conn,
                    "logstore/reject_add.sql",
                    {"stream_key": self.key, "doc_id": r.doc_id, "index_name": r.index, "reason": r.reason},
                )
            execute(
                self.conn,
                "logstore/watermark_save.sql",
                {
                    **self.base,
                    "after_at": chunk.last[0] if move and chunk.last else None,
                    "after_id": chunk.last[1] if move and chunk.last else None,
                    "created": sent.created,
                    "existing": sent.updated,
                    "rejected": len(rejected),
                    "done": False,
                },
            )
        self.totals["created"] += sent.created
        self.totals["updated"] += sent.updated
        self.totals["rejected"] += len(rejected)


@dataclass
class _Job:
    """What the two phases of one stream share."""

    stream: _Stream
    read_conn: psycopg.Connection
    client: OpenSearch
    cluster: ClusterConfig
    req: Request
    dt: DataType
    window: Window
    read: Fetch | None
    info: ClusterInfo | None
    indices: _Indices

    @property
    def limit(self) -> int | None:
        return self.info.max_content_length if self.info else None


def _stream_forward(job: _Job, after: tuple[datetime, str] | None, on_checkpoint: Callable[[dict], None] | None) -> None:
    """The rows after the watermark: read ahead in a thread, ``concurrency`` requests in flight,
    the watermark moved after each acknowledged request in stream order."""
    stream, read_conn, client, cluster, req, dt = job.stream, job.read_conn, job.client, job.cluster, job.req, job.dt
    budget = _Budget(req.batch_bytes * (req.concurrency + 1))
    out: queue.Queue = queue.Queue()

    def make_chunks() -> Iterator[Chunk]:
        return chunks(
            read_conn,
            dt,
            job.window,
            after,
            prefix=req.prefix,
            layout=req.layout,
            batch_bytes=req.batch_bytes,
            read=job.read,
            offloads=offloads_of(read_conn, dt),
            max_doc_bytes=job.limit,
        )

    producer = threading.Thread(target=_produce, args=(out, budget, make_chunks), name=f"read-{dt.name}", daemon=True)
    inflight: deque[tuple[Chunk, Future | None]] = deque()
    pool = ThreadPoolExecutor(max_workers=req.concurrency, thread_name_prefix=f"bulk-{dt.name}")

    def settle_oldest() -> None:
        chunk, future = inflight.popleft()
        sent = future.result() if future else Sent()
        stream.record(chunk, sent, move=True)
        budget.give(chunk.size)
        chunk.lines.clear()
        if on_checkpoint:
            on_checkpoint(dict(stream.totals))

    producer.start()
    try:
        while (item := out.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            if item is _WAKE:  # the reader waits for bytes: the oldest request's go back first
                if inflight:
                    settle_oldest()
                continue
            if item.docs:
                job.indices.prepare(item.indices)
                stream.totals["bulk_requests"] += 1
                stream.totals["bytes"] += item.size
                inflight.append((item, pool.submit(send_chunk, client, cluster, item)))
            else:
                inflight.append((item, None))
            while len(inflight) > req.concurrency or (inflight and inflight[0][1] is None):
                settle_oldest()
        while inflight:
            settle_oldest()
    finally:
        budget.close()
        while producer.is_alive():
            try:
                out.get_nowait()
            except queue.Empty:
                time.sleep(0.01)
        pool.shutdown(wait=True, cancel_futures=True)


def _present(client: OpenSearch, cluster: ClusterConfig, refs: list[tuple[str, str]]) -> set[str]:
    """The ids among ``refs`` (index, id) that the cluster holds now (no documents fetched)."""
    body = {"docs": [{"_index": index, "_id": doc_id} for index, doc_id in refs]}
    found = with_retries(cluster, "mget", lambda: client.mget(body=body, _source=False))
    return {d["_id"] for d in found.get("docs", []) if d.get("found")}


def _stale_keys(job: _Job, upto: tuple[datetime, str], since_xid: str | None) -> Iterator[tuple[list[str], int]]:
    """Pages of the ids behind the watermark whose document is missing or out of date, with how
    many of them were missing (the rest changed since the last pass)."""
    conn, client, cluster, req, dt, window = job.read_conn, job.client, job.cluster, job.req, job.dt, job.window
    after: tuple[datetime, str] | None = None
    while True:
        params = {
            **window.params(),
            "upto_at": upto[0],
            "upto_id": upto[1],
            "since_xid": since_xid,
            "limit": PASS_IDS,
        }
        if after:
            params.update(after_at=after[0], after_id=after[1])
        keys = fetch_all(
            conn,
            "logstore/keys.sql",
            params,
            table=dt.table,
            tenants=bool(window.tenants),
            since=since_xid is not None,
            after=bool(after),
        )
        if not keys:
            return
        after = (keys[-1]["created_at"], keys[-1]["id"])
        refs = [(index_name(req.prefix, dt, req.layout, k["tenant_id"], month_label(k["created_at"])), k["id"]) for k in keys]
        present = _present(client, cluster, refs)
        missing = [k["id"] for k in keys if k["id"] not in present]
        changed = [k["id"] for k in keys if k["changed"] and k["id"] in present]
        if missing or changed:
            yield missing + changed, len(missing)
        if len(keys) < PASS_IDS:
            return


def _rows_by_id(conn: psycopg.Connection, dt: DataType, columns: list[str], ids: list[str]) -> Iterator[list[dict]]:
    query = render("logstore/rows_by_id.sql", table=dt.table, columns=columns)
    with conn.transaction(), conn.cursor(name=f"dm_logs_{uuid.uuid4().hex[:8]}") as cur:
        cur.execute(query, {"ids": ids})
        yield from pages(cur)


def _pass_behind_watermark(job: _Job, upto: tuple[datetime, str], since_xid: str | None) -> None:
    """Rewrite the documents behind the watermark that are missing or older than their row."""
    stream, read_conn, dt, req = job.stream, job.read_conn, job.dt, job.req
    columns = table_columns(read_conn, dt.table)
    offloads = offloads_of(read_conn, dt)

    def flush(chunk: Chunk) -> None:
        if chunk.docs:
            job.indices.prepare(chunk.indices)
            stream.totals["bulk_requests"] += 1
            stream.totals["bytes"] += chunk.size
        stream.record(chunk, send_chunk(job.client, job.cluster, chunk) if chunk.docs else Sent(), move=False)

    for ids, missing in _stale_keys(job, upto, since_xid):
        stream.totals["late"] += missing
        stream.totals["refreshed"] += len(ids) - missing
        chunker = Chunker(req.batch_bytes, job.limit)
        for page in _rows_by_id(read_conn, dt, columns, ids):
            for key, index, doc, why in documents_of(read_conn, dt, page, req.prefix, req.layout, job.read, offloads):
                if full := chunker.add(key, index, doc, why):
                    flush(full)
        if rest := chunker.rest():
            flush(rest)


def migrate_partition(
    connector: Connector,
    client: OpenSearch,
    cluster: ClusterConfig,
    req: Request,
    part: dict,
    read: Fetch | None,
    on_checkpoint: Callable[[dict], None] | None = None,
    info: ClusterInfo | None = None,
) -> dict:
    """Stream one data type's month into the cluster from its watermark, then pass over the rows
    behind it; returns the counts."""
    return_big_buffers()
    dt: DataType = DATA_TYPES[part["data_type"]]
    key = stream_key(cluster, req, dt.name, part["month"])
    window = Window(datetime.fromisoformat(part["lo"]), datetime.fromisoformat(part["hi"]), req.tenants)
    started = time.monotonic()
    with connection(connector) as state_conn, connection(connector) as read_conn:
        if req.restart:
            execute(state_conn, "logstore/watermark_reset.sql", {"stream_key": key})
            execute(state_conn, "logstore/rejects_clear.sql", {"stream_key": key})
        pass_xid = fetch_one(state_conn, "logstore/pass_xid.sql")["xid"]
        mark = fetch_one(state_conn, "logstore/watermark.sql", {"stream_key": key})
        after = (mark["after_at"], mark["after_id"]) if mark and mark["after_at"] else None
        since_xid = mark["pass_xid"] if mark else None
        base = {
            "stream_key": key,
            "cluster": cluster.describe(),
            "prefix": req.prefix,
            "layout": req.layout,
            "data_type": dt.name,
            "month": datetime.strptime(part["month"], "%Y.%m"),
            "tenants": list(req.tenants) or None,
        }
        stream = _Stream(state_conn, key, base)
        indices = _Indices(client, cluster)
        job = _Job(stream, read_conn, client, cluster, req, dt, window, read, info, indices)
        _stream_forward(job, after, on_checkpoint)
        if after is not None:
            _pass_behind_watermark(job, after, since_xid)
        with state_conn.transaction():
            execute(
                state_conn,
                "logstore/watermark_save.sql",
                {**base, "after_at": None, "after_id": None, "created": 0, "existing": 0, "rejected": 0, "done": True},
            )
            execute(
                state_conn,
                "logstore/pass_save.sql",
                {"stream_key": key, "pass_xid": pass_xid, "refreshed": stream.totals["refreshed"] + stream.totals["late"]},
            )
        indices.restore()
        rejects = fetch_all(state_conn, "logstore/rejects.sql", {"stream_key": key, "limit": REPORTED_REJECTS})
        row = fetch_one(state_conn, "logstore/watermark.sql", {"stream_key": key})
    totals = stream.totals
    seconds = time.monotonic() - started
    result = {
        **{k: part[k] for k in ("data_type", "month", "rows")},
        **totals,
        "seconds": round(seconds, 3),
        "docs_per_second": round((totals["created"] + totals["updated"]) / seconds, 1) if seconds else None,
        "indices": sorted(indices.seen),
        "stream_key": key,
        "watermark": [row["after_at"].isoformat(), row["after_id"]] if row and row["after_at"] else None,
        "rejected_total": rejects[0]["total"] if rejects else 0,
        "rejects": [{"id": r["doc_id"], "index": r["index_name"], "reason": r["reason"]} for r in rejects],
    }
    log.info(
        "%s %s: %d created, %d rewritten (%d late, %d changed since the last pass), %d rejected, %d bulk requests, "
        "%.1f MB in %.1f s",
        dt.name,
        part["month"],
        totals["created"],
        totals["updated"],
        totals["late"],
        totals["refreshed"],
        totals["rejected"],
        totals["bulk_requests"],
        totals["bytes"] / 1e6,
        seconds,
    )
    return result
