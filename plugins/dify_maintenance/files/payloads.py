"""Objects whose content names files: offloaded node payloads, offloaded draft variables and the
state of paused runs (``filerefs.PAYLOADS``).

Dify keeps only the head of a large node output in the database (lists cut at 1,000 items,
strings at 100,000 characters, payloads over 1,000 KiB replaced) and stores the whole value as an
object; a file past the cut is named only there. Each live payload object is read once per run,
streamed in pieces into a session table and searched there with the same SQL as every column
(``orphans/_refs.sql``), so memory stays at one piece whatever the object's size.
"""

from __future__ import annotations

import logging

import opendal
import psycopg

from dify_maintenance.core.db import execute, fetch_all
from dify_maintenance.core.errors import MaintenanceError
from dify_maintenance.files import filerefs
from dify_maintenance.storage.stores import StoreConfig, stat_or_none

log = logging.getLogger(__name__)

PIECE_BYTES = 1 << 20
# A reference never spans more than this (a dify-file-ref with a storage key: about 450
# characters): each piece repeats the previous piece's tail, so none is cut in two.
OVERLAP_CHARS = 2048
# Pieces searched in one statement.
PIECES_PER_STATEMENT = 16


class PayloadUnreadable(MaintenanceError):
    """A payload object exists but cannot be read: the files it may name are unknown, so nothing
    is collected until it can be read."""

    retryable = True


def flags(ctx: dict) -> dict:
    return {k: ctx["schema"][k] for k in ("has_offloads", "has_draft_files", "has_pauses")}


def _pieces(op: opendal.Operator, path: str):
    """The object's text in overlapping pieces (invalid UTF-8 and NUL replaced: only ASCII
    references are searched for); ``None`` when the object does not exist."""
    if stat_or_none(op, path) is None:
        return None

    def generate():
        tail = ""
        with op.open(path, "rb") as reader:
            while True:
                block = reader.read(PIECE_BYTES)
                if not block:
                    break
                text = tail + bytes(block).decode("utf-8", errors="replace").replace("\x00", " ")
                yield text
                tail = text[-OVERLAP_CHARS:]

    return generate()


def search(conn: psycopg.Connection, store: StoreConfig, ctx: dict, during_collect: bool = False) -> dict:
    """Read every live payload object this run has not read yet and keep the candidates it names.

    ``during_collect``: the check at the moment of moving; only payloads of rows changed since the
    scan began can be new. A payload is read once per run, so what it names is kept whichever
    batch it is in."""
    op = store.operator()
    names = [p.name for p in filerefs.PAYLOADS]
    params = {"run_key": ctx["run_key"], "since_xid": ctx["cutoffs"]["scan_xid"]}
    objects = fetch_all(conn, "orphans/payload_objects.sql", params, since=during_collect, **flags(ctx))
    execute(conn, "orphans/payload_text.sql")
    marks = {"sources": names, "run_key": ctx["run_key"], **filerefs.pattern_params()}
    if during_collect:
        marks["suffix"] = " (named during the run)"
    counts = {"read": 0, "missing": 0, "bytes": 0, "referenced": 0}
    for obj in objects:
        kind = int(obj["n"])
        size = 0
        try:
            pieces = _pieces(op, store.prefix + obj["key"])
            if pieces is not None:
                buffered = 0
                for piece in pieces:
                    execute(conn, "orphans/payload_piece.sql", {"n": kind, "content": piece})
                    size += len(piece)
                    buffered += 1
                    if buffered >= PIECES_PER_STATEMENT:
                        counts["referenced"] += execute(conn, "orphans/mark_payload.sql", marks, during_collect=during_collect)
                        execute(conn, "orphans/payload_clear.sql")
                        buffered = 0
                counts["referenced"] += execute(conn, "orphans/mark_payload.sql", marks, during_collect=during_collect)
                execute(conn, "orphans/payload_clear.sql")
        except opendal.exceptions.Error as exc:
            raise PayloadUnreadable(
                f"payload {obj['key']} ({names[kind - 1]}) could not be read ({type(exc).__name__}); the files it names "
                "are unknown, so nothing was collected. Fix the storage and retry."
            ) from exc
        outcome = "missing" if pieces is None else "read"
        counts[outcome] += 1
        counts["bytes"] += size
        done = {"run_key": ctx["run_key"], "key": obj["key"], "kind": names[kind - 1], "bytes": size, "outcome": outcome}
        execute(conn, "orphans/payload_done.sql", done)
    if objects:
        log.info("payloads: %s", counts)
    return counts
