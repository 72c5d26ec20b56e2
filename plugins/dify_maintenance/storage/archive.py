"""Archive before delete: rows leave the database only as zstd-compressed COPY text in an
OpenDAL store, with a manifest per batch, and come back with an idempotent restore.

COPY text restores byte-for-byte (types, NULLs, escapes), needs no schema knowledge to write and
streams without building Python objects. Objects are written before the batch commits, so an
archive is at least as complete as the deletions (at-least-once); restore skips rows present.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import opendal
import psycopg
import zstandard

from dify_maintenance.core.errors import ArchiveStoreUnreachable, ArchiveUnavailable, MaintenanceError
from dify_maintenance.storage.stores import StoreConfig, key_part

MANIFEST_FORMAT = "dify-maintenance-archive/1"
MANIFEST_NAME = "manifest.json"
# A part's rows: COPY text of the table's columns (the file rows), or COPY text of one column
# holding each row as JSON (the purge, whose one statement per batch deletes from many tables).
COPY_ENCODING = "copy"
JSON_ENCODING = "json"


@dataclass
class TablePart:
    table: str
    columns: list[str]
    rows: int
    sha256: str
    data: bytes

    def manifest_entry(self, key: str) -> dict:
        return {
            "table": self.table,
            "columns": self.columns,
            "rows": self.rows,
            "sha256": self.sha256,
            "object": key,
            "compressed_bytes": len(self.data),
        }


class _Counted:
    """The store's file, counting the compressed bytes written through it."""

    def __init__(self, target) -> None:
        self.target, self.written = target, 0

    def write(self, data: bytes) -> int:
        self.target.write(data)
        self.written += len(data)
        return len(data)


class PartStream:
    """One table's part of a batch, compressed and written to the store as its rows arrive: a
    batch of big rows holds one row in memory at a time, never the part."""

    def __init__(self, op: opendal.Operator, key: str, table: str, columns: list[str], encoding: str) -> None:
        self.key, self.table, self.columns, self.encoding = key, table, columns, encoding
        self.rows = 0
        self.digest = hashlib.sha256()
        self.file = op.open(key, "wb")
        self.sink = _Counted(self.file)
        self.compressor = zstandard.ZstdCompressor(level=3).stream_writer(self.sink, closefd=False)

    def write(self, block: bytes | memoryview, rows: int | None = None) -> None:
        """Add rows (COPY text, each ending in a newline; ``rows`` when the caller counted them)."""
        self.digest.update(block)
        self.rows += rows if rows is not None else bytes(block).count(b"\n")
        self.compressor.write(block)

    def close(self) -> dict:
        self.compressor.close()
        self.file.close()
        return {
            "table": self.table,
            "columns": self.columns,
            "rows": self.rows,
            "sha256": self.digest.hexdigest(),
            "object": self.key,
            "compressed_bytes": self.sink.written,
            "encoding": self.encoding,
        }


def copy_out(cur: psycopg.Cursor, query: psycopg.sql.Composable, params: dict, table: str, columns: list[str]) -> TablePart:
    """Run a ``COPY (... RETURNING ...) TO STDOUT`` and compress it as it streams."""
    digest = hashlib.sha256()
    sink = io.BytesIO()
    rows = 0
    compressor = zstandard.ZstdCompressor(level=3).stream_writer(sink, closefd=False)
    with cur.copy(query, params) as copy:
        for chunk in copy:
            block = bytes(chunk)
            digest.update(block)
            rows += block.count(b"\n")
            compressor.write(block)
    compressor.close()
    return TablePart(table, columns, rows, digest.hexdigest(), sink.getvalue())


# Archive objects in flight at once: uploads overlap the next statement's COPY, not each other's
# bandwidth; a few are enough to hide an object store's per-request latency.
UPLOAD_THREADS = 4


class ArchiveWriter:
    """Writes one batch's parts and manifest under ``<prefix>retention/<run>/<family>/<stage>/``."""

    def __init__(self, store: StoreConfig, run_prefix: str, context: dict) -> None:
        self.store = store
        self.op = store.operator()
        self.run_prefix = run_prefix
        self.context = context
        self.pool = ThreadPoolExecutor(max_workers=UPLOAD_THREADS, thread_name_prefix="archive-upload")

    def close(self) -> None:
        self.pool.shutdown(wait=True)

    def stage_prefix(self, family: str, stage: str) -> str:
        return f"{self.store.prefix}{self.run_prefix}/{key_part(family)}/{key_part(stage)}/"

    def batch_prefix(self, family: str, stage: str, batch: int) -> str:
        return f"{self.stage_prefix(family, stage)}{batch:08d}/"

    def begin_batch(self, family: str, stage: str, batch: int) -> BatchUpload:
        return BatchUpload(self, family, stage, batch)


class BatchUpload:
    """One batch's archive objects. Each part starts uploading as soon as its statement has
    streamed it, while the batch's next statement runs; ``finish`` waits for all of them and
    writes the manifest last. The batch commits only after ``finish`` returned, so a deleted row
    is never without its archive object. A batch that deleted nothing writes no manifest and
    removes one an earlier, rolled-back try of the same batch may have left."""

    def __init__(self, writer: ArchiveWriter, family: str, stage: str, batch: int) -> None:
        self.writer = writer
        self.family = family
        self.stage = stage
        self.batch = batch
        self.prefix = writer.batch_prefix(family, stage, batch)
        self.pending: list[tuple[TablePart, str, Future]] = []
        self.streams: dict[str, PartStream] = {}

    def stream(self, table: str, columns: list[str]) -> PartStream:
        """The part of ``table``, written as its rows arrive (JSON rows, see ``JSON_ENCODING``)."""
        if table not in self.streams:
            key = f"{self.prefix}{table}.json.zst"
            self.streams[table] = _from_store(
                f"writing {key}", lambda: PartStream(self.writer.op, key, table, columns, JSON_ENCODING)
            )
        return self.streams[table]

    def add(self, part: TablePart | None) -> None:
        """Start writing a part that holds deleted rows (empty parts are not archived)."""
        if part is None or not part.rows:
            return
        key = f"{self.prefix}{part.table}.copy.zst"
        self.pending.append((part, key, self.writer.pool.submit(self.writer.op.write, key, part.data)))

    def abandon(self) -> None:
        """A try of the batch that rolled back: wait for its parts, since a redo of the batch writes
        the same keys and must not race them; objects no manifest names are never restored."""
        for _part, _key, future in self.pending:
            future.exception()
        self.pending.clear()
        for stream in self.streams.values():
            try:
                stream.close()
            except Exception:  # noqa: S110 - the object is not named by any manifest: never restored
                pass
        self.streams.clear()

    def finish(self) -> dict | None:
        streamed = [stream for stream in self.streams.values() if stream.rows]
        if not self.pending and not streamed:
            for stream in self.streams.values():
                stream.close()
                self.writer.op.delete(stream.key)
            self.writer.op.delete(self.prefix + MANIFEST_NAME)
            return None
        try:
            entries = []
            for part, key, future in self.pending:
                future.result()
                entries.append(part.manifest_entry(key))
            for stream in self.streams.values():
                entry = stream.close()
                if entry["rows"]:
                    entries.append(entry)
                else:
                    self.writer.op.delete(stream.key)
            manifest = {
                "format": MANIFEST_FORMAT,
                **self.writer.context,
                "family": self.family,
                "stage": self.stage,
                "batch": self.batch,
                "written_at": datetime.now(UTC).isoformat(),
                "tables": entries,
            }
            self.writer.op.write(self.prefix + MANIFEST_NAME, json.dumps(manifest, indent=1).encode())
        except Exception as exc:
            raise ArchiveUnavailable(
                f"writing archive batch {self.prefix} failed ({type(exc).__name__}); the batch was rolled back"
            ) from exc
        return manifest


# The orphaned-files collector archives the file rows it deletes under this family name.
FILES_FAMILY = "files"
FILES_TABLES = frozenset({"upload_files", "tool_files"})
# Store errors that a person has to fix (a wrong path, missing rights, a bad setting) fail at
# once; every other store error (timeouts, rate limits, 5xx) is worth the task's retries.
_OPERATOR_STORE_ERRORS = (
    opendal.exceptions.NotFound,
    opendal.exceptions.PermissionDenied,
    opendal.exceptions.ConfigInvalid,
    opendal.exceptions.Unsupported,
    opendal.exceptions.IsADirectory,
    opendal.exceptions.NotADirectory,
)


# opendal's exception classes do not share a base class of their own
_STORE_ERRORS = tuple(cls for cls in vars(opendal.exceptions).values() if isinstance(cls, type) and issubclass(cls, Exception))


def _from_store(what: str, call):
    try:
        return call()
    except _OPERATOR_STORE_ERRORS as exc:
        raise ArchiveUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
    except _STORE_ERRORS as exc:
        raise ArchiveStoreUnreachable(f"{what}: {type(exc).__name__} (transient, retried): {exc}") from exc


def iter_manifests(store: StoreConfig, prefix: str) -> Iterator[dict]:
    """Every manifest below ``prefix`` in batch order."""
    op = store.operator()
    base = store.prefix + prefix.strip("/") + "/"
    listed = _from_store(f"listing {base}", lambda: [e.path for e in op.list(base, recursive=True)])
    for key in sorted(k for k in listed if k.endswith("/" + MANIFEST_NAME)):
        yield json.loads(bytes(_from_store(f"reading {key}", lambda key=key: op.read(key))))


def read_part(op: opendal.Operator, entry: dict) -> bytes:
    raw = _from_store(f"reading {entry['object']}", lambda: op.read(entry["object"]))
    try:
        data = zstandard.ZstdDecompressor().decompressobj().decompress(bytes(raw))
    except zstandard.ZstdError as exc:
        raise MaintenanceError(f"archive object {entry['object']} is corrupt: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        raise MaintenanceError(f"archive object {entry['object']} is corrupt: checksum mismatch")
    if data.count(b"\n") != entry["rows"]:
        raise MaintenanceError(f"archive object {entry['object']} holds a different row count than its manifest")
    return data


def archived_rows(store: StoreConfig, prefix: str) -> dict[str, int]:
    """Rows per table according to the manifests (what verify compares with deletions)."""
    totals: dict[str, int] = {}
    for manifest in iter_manifests(store, prefix):
        for entry in manifest["tables"]:
            totals[entry["table"]] = totals.get(entry["table"], 0) + int(entry["rows"])
    return totals
