"""Rows of a workflow-log table, in (created_at, id) order, as documents ready for ``_bulk``.

Read in segments: each segment is one short transaction with a server-side cursor that hands
over a page at a time, so memory stays flat in the number of rows and no snapshot outlives a
segment (a live Dify keeps vacuuming). Offloaded node payloads are read from Dify's storage and
inlined into the document, as Dify's own Elasticsearch repository does: once cleanup-pg deletes
the offload rows, nothing in PostgreSQL names those files any more, so a document that only
referenced them would point at files the orphaned-files cleanup is entitled to remove.
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
from dify_maintenance.logstore.documents import DataType, index_name, month_label, payload, serialize, to_document

PAGE_ROWS = 1_000
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


def rows_after(
    conn: psycopg.Connection,
    dt: DataType,
    columns: list[str],
    window: Window,
    after: tuple[datetime, str] | None,
    page_rows: int = PAGE_ROWS,
    segment_rows: int = SEGMENT_ROWS,
) -> Iterator[list[dict]]:
    """Pages of rows after ``after``, segment by segment, until the window is exhausted."""
    while True:
        params = {**window.params(), "limit": segment_rows}
        if after:
            params.update(after_at=after[0], after_id=after[1])
        query = render("logstore/rows.sql", table=dt.table, columns=columns, tenants=bool(window.tenants), after=bool(after))
        seen = 0
        with conn.transaction(), conn.cursor(name=f"dm_logs_{uuid.uuid4().hex[:8]}") as cur:
            cur.itersize = page_rows
            cur.execute(query, params)
            while page := cur.fetchmany(page_rows):
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
    inlined: dict[str, dict] = {}
    failed: dict[str, str] = {}
    for off in found:
        node = off["node_execution_id"]
        if read is None:
            failed[node] = f"offloaded {off['type']} in storage ({off['key']}) and no Dify storage configured"
            continue
        try:
            data = read(off["key"])
            inlined.setdefault(node, {})[off["type"]] = payload(data.decode("utf-8"))
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
        yield key, index, to_document(dt, row, inlined.get(doc_id)), None


def action_line(index: str, doc_id: str) -> bytes:
    return orjson.dumps({"create": {"_index": index, "_id": doc_id}}) + b"\n"


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
    page_rows: int = PAGE_ROWS,
    segment_rows: int = SEGMENT_ROWS,
) -> Iterator[Chunk]:
    """Bulk bodies of at most about ``batch_bytes`` each (one document more at most), in stream order."""
    columns = table_columns(conn, dt.table)
    chunk = Chunk()
    for page in rows_after(conn, dt, columns, window, after, page_rows, segment_rows):
        for key, index, doc, why in documents_of(conn, dt, page, prefix, layout, read, offloads):
            if doc is None:
                chunk.rejected.append(Rejected(key[1], index, why or "not sent"))
            else:
                pair = action_line(index, key[1]) + serialize(doc) + b"\n"
                chunk.lines.append(pair)
                chunk.indices.add(index)
                chunk.docs += 1
                chunk.size += len(pair)
            chunk.last = key
            if chunk.size >= batch_bytes:
                yield chunk
                chunk = Chunk()
    if chunk.docs or chunk.rejected:
        yield chunk
