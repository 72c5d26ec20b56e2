"""Rows of a workflow-log table, in (created_at, id) order, as documents ready for ``_bulk``.

Read in segments: each segment is one short transaction with a server-side cursor that hands
over a page at a time, so no snapshot outlives a segment (a live Dify keeps vacuuming). A page is
bounded by bytes as well as rows: the cursor fetches one row, then twice as many while the rows
are small, and fewer when they are big, so eight 25 MB rows never sit in memory together.

Offloaded node payloads are read from Dify's storage and inlined into the document, as Dify's own
Elasticsearch repository does: once cleanup-pg deletes the offload rows, nothing in PostgreSQL
names those files any more, so a document that only referenced them would point at files the
orphaned-files cleanup is entitled to remove.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import orjson
import psycopg

from dify_maintenance.core.db import fetch_all
from dify_maintenance.core.sqltemplates import render
from dify_maintenance.logstore.documents import (
    DataType,
    Refused,
    index_name,
    month_label,
    payload,
    serialize,
    to_document,
)

PAGE_ROWS = 1_000
PAGE_BYTES = 4 * 1024 * 1024
SEGMENT_ROWS = 100_000


@dataclass(frozen=True)
class Window:
    """The rows a stream covers: created_at in [lo, hi) and, when given, these tenants."""

    lo: datetime
    hi: datetime
    tenants: tuple[str, ...] = ()

    def params(self) -> dict:
        return {"lo": self.lo, "hi": self.hi, "tenants": [uuid.UUID(t) for t in self.tenants] or None}


@dataclass
class Rejected:
    doc_id: str
    index: str
    reason: str


@dataclass
class Chunk:
    """One bulk request's worth of documents, and the stream position it ends at."""

    lines: list[bytes] = field(default_factory=list)
    docs: int = 0
    size: int = 0
    last: tuple[datetime, str] | None = None
    indices: set[str] = field(default_factory=set)  # the indices its documents go to
    rejected: list[Rejected] = field(default_factory=list)  # refused before sending (unreadable payload)

    def body(self) -> bytes:
        return b"".join(self.lines)


def offloads_of(conn: psycopg.Connection, dt: DataType) -> bool:
    """Whether rows of ``dt`` may have payloads offloaded to storage in this database."""
    return dt.offloads and bool(fetch_all(conn, "logstore/has_offloads.sql")[0]["present"])


def table_columns(conn: psycopg.Connection, table: str) -> list[str]:
    return [r["name"] for r in fetch_all(conn, "logstore/columns.sql", {"table": table})]


def row_bytes(row: dict) -> int:
    """About what a row weighs in memory once fetched: its text and bytes values."""
    return sum(len(v) for v in row.values() if isinstance(v, (str, bytes))) + 200


def pages(cur: psycopg.Cursor, page_rows: int = PAGE_ROWS, page_bytes: int = PAGE_BYTES) -> Iterator[list[dict]]:
    """A cursor's rows in pages of at most ``page_rows`` rows and about ``page_bytes`` bytes: the
    next fetch asks for as many rows as the last ones' average size leaves room for (one at
    least, at most twice the last page)."""
    ask = 1
    while page := cur.fetchmany(ask):
        size = sum(row_bytes(r) for r in page)
        yield page
        average = max(1, size // len(page))
        ask = max(1, min(page_rows, len(page) * 2, page_bytes // average))


def rows_after(
    conn: psycopg.Connection,
    dt: DataType,
    columns: list[str],
    window: Window,
    after: tuple[datetime, str] | None,
    page_rows: int = PAGE_ROWS,
    segment_rows: int = SEGMENT_ROWS,
    page_bytes: int = PAGE_BYTES,
) -> Iterator[list[dict]]:
    """Pages of rows after ``after``, segment by segment, until the window is exhausted."""
    while True:
        params = {**window.params(), "limit": segment_rows}
        if after:
            params.update(after_at=after[0], after_id=after[1])
        query = render("logstore/rows.sql", table=dt.table, columns=columns, tenants=bool(window.tenants), after=bool(after))
        seen = 0
        with conn.transaction(), conn.cursor(name=f"dm_logs_{uuid.uuid4().hex[:8]}") as cur:
            cur.execute(query, params)
            for page in pages(cur, page_rows, page_bytes):
                seen += len(page)
                after = (page[-1]["created_at"], str(page[-1]["id"]))
                yield page
        if seen < segment_rows:
            return


Fetch = Callable[[str], bytes]


def inline_offloads(conn: psycopg.Connection, page: list[dict], read: Fetch | None) -> tuple[dict[str, dict], dict[str, str]]:
    """The offloaded payloads of a page's node executions, read from storage: by node execution,
    payload column -> content; and the executions whose payload could not be read, with why."""
    found = fetch_all(conn, "logstore/offloads.sql", {"ids": [row["id"] for row in page]})
    return read_offloads(found, read)


def read_offloads(found: list[dict], read: Fetch | None) -> tuple[dict[str, dict], dict[str, str]]:
    """``inline_offloads`` for offload rows already at hand (node_execution_id, type, key or None)."""
    inlined: dict[str, dict] = {}
    failed: dict[str, str] = {}
    for off in found:
        node = off["node_execution_id"]
        if off["key"] is None:
            failed[node] = f"offloaded {off['type']}: its upload_files row is missing, so its content cannot be found"
            continue
        if read is None:
            failed[node] = f"offloaded {off['type']} in storage ({off['key']}) and no Dify storage configured"
            continue
        try:
            data = read(off["key"])
            inlined.setdefault(node, {})[off["type"]] = payload(data.decode("utf-8"), f"offloaded {off['type']}")
        except Refused as exc:
            failed[node] = str(exc)
        except Exception as exc:  # opendal raises its own error types; a bad file is this document's problem only
            failed[node] = f"offloaded {off['type']} unreadable at {off['key']}: {type(exc).__name__}: {str(exc)[:200]}"
    return inlined, failed


def documents_of(
    conn: psycopg.Connection, dt: DataType, page: list[dict], prefix: str, layout: str, read: Fetch | None, offloads: bool
) -> Iterator[tuple[tuple[datetime, str], str, dict | None, str | None]]:
    """((created_at, id), index, document or None, why not) for each row of a page."""
    inlined, failed = inline_offloads(conn, page, read) if offloads else ({}, {})
    for row in page:
        doc_id = str(row["id"])
        index = index_name(prefix, dt, layout, str(row["tenant_id"]), month_label(row["created_at"]))
        key = (row["created_at"], doc_id)
        if doc_id in failed:
            yield key, index, None, failed[doc_id]
            continue
        try:
            yield key, index, to_document(dt, row, inlined.get(doc_id)), None
        except Refused as exc:
            yield key, index, None, str(exc)


def action_line(index: str, doc_id: str) -> bytes:
    """``index``, as Dify's own writer: a document whose row changed is replaced, not kept stale."""
    return orjson.dumps({"index": {"_index": index, "_id": doc_id}}) + b"\n"


class Chunker:
    """Documents into bulk bodies of about ``batch_bytes`` (one document more at most); a document
    bigger than ``max_doc_bytes`` (the cluster's request limit) or one that could not be made is
    a reject of the chunk it falls in."""

    def __init__(self, batch_bytes: int, max_doc_bytes: int | None = None) -> None:
        self.batch_bytes = min(batch_bytes, max_doc_bytes or batch_bytes)
        self.max_doc_bytes = max_doc_bytes
        self.chunk = Chunk()

    def add(self, key: tuple[datetime, str], index: str, doc: dict | None, why: str | None) -> Chunk | None:
        """Add one row's document; returns a chunk when it is full (a request never passes the
        cluster's limit: a document that would push it over starts the next one)."""
        pair = None if doc is None else action_line(index, key[1]) + serialize(doc) + b"\n"
        if pair is not None and self.max_doc_bytes is not None and len(pair) > self.max_doc_bytes:
            why, pair = oversize_reason(len(pair), self.max_doc_bytes), None
        full = None
        if pair is not None and self.max_doc_bytes is not None and self.chunk.size + len(pair) > self.max_doc_bytes:
            full, self.chunk = self.chunk, Chunk()
        chunk = self.chunk
        if pair is None:
            chunk.rejected.append(Rejected(key[1], index, why or "not sent"))
        else:
            chunk.lines.append(pair)
            chunk.indices.add(index)
            chunk.docs += 1
            chunk.size += len(pair)
        chunk.last = key
        if full is not None:
            return full
        if chunk.size >= self.batch_bytes:
            self.chunk = Chunk()
            return chunk
        return None

    def rest(self) -> Chunk | None:
        chunk, self.chunk = self.chunk, Chunk()
        return chunk if chunk.docs or chunk.rejected else None


def chunks(
    conn: psycopg.Connection,
    dt: DataType,
    window: Window,
    after: tuple[datetime, str] | None,
    *,
    prefix: str,
    layout: str,
    batch_bytes: int,
    read: Fetch | None,
    offloads: bool,
    max_doc_bytes: int | None = None,
    page_rows: int = PAGE_ROWS,
    segment_rows: int = SEGMENT_ROWS,
) -> Iterator[Chunk]:
    """Bulk bodies of the rows after ``after``, in stream order (see ``Chunker``)."""
    columns = table_columns(conn, dt.table)
    chunker = Chunker(batch_bytes, max_doc_bytes)
    for page in rows_after(conn, dt, columns, window, after, page_rows, segment_rows):
        for key, index, doc, why in documents_of(conn, dt, page, prefix, layout, read, offloads):
            if full := chunker.add(key, index, doc, why):
                yield full
    if rest := chunker.rest():
        yield rest


def oversize_reason(size: int, limit: int) -> str:
    return (
        f"the document is {size / 1_048_576:,.1f} MB, over the cluster's request limit (http.max_content_length, "
        f"{limit / 1_048_576:,.0f} MB)"
    )
