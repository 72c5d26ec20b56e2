"""cleanup-pg's proof at the moment of deleting: each deleted row's document, in the index Dify
reads, equal to the row.

The purge streams every row its batch statement deleted (the rows are locked by that delete
until the commit, so no write can change them meanwhile). Each workflow run, node execution and
app log becomes the document it makes now (offloaded payloads read from storage and inlined, as
the migration did) and its content hash; before the batch commits, ``_mget`` fetches the
cluster's documents and a run whose own document, or any of whose node executions' or app logs'
documents, is missing or different is not proved: the batch runs again without it, and it stays
in PostgreSQL, reported by id. A cluster that does not answer raises (retryable): the batch rolls
back and nothing unproved is deleted.
"""

from __future__ import annotations

import orjson
import psycopg
from opensearchpy import OpenSearch

from dify_maintenance.core.db import fetch_all
from dify_maintenance.core.schema import SchemaSnapshot
from dify_maintenance.logstore.cluster import ClusterConfig
from dify_maintenance.logstore.documents import (
    DATA_TYPES,
    DataType,
    Refused,
    content_hash,
    index_name,
    month_label,
    row_from_json,
    to_document,
)
from dify_maintenance.logstore.reader import Fetch, read_offloads
from dify_maintenance.logstore.validate import fetch_sources

OFFLOAD_TABLE = "workflow_node_execution_offload"
MGET_IDS = 500
MGET_BYTES = 8 * 1024 * 1024
NOT_PROVED = "no current document in the log cluster (kept, reported by id)"
REPORTED = 50


class DocumentProof:
    reason = NOT_PROVED

    def __init__(self, client: OpenSearch, cluster: ClusterConfig, prefix: str, layout: str, read: Fetch | None = None) -> None:
        self.client, self.cluster, self.prefix, self.layout, self.read = client, cluster, prefix, layout, read
        self.by_table: dict[str, DataType] = {dt.table: dt for dt in DATA_TYPES.values()}
        self.types: dict[str, dict[str, str]] = {}
        self.examples: list[str] = []  # the first rows not proved, across the walk, by id
        self.checked = 0
        self.begin()

    def tables(self) -> frozenset[str]:
        return frozenset({*self.by_table, OFFLOAD_TABLE})

    def prepare(self, snap: SchemaSnapshot) -> None:
        self.types = {t: snap.columns[t] for t in self.tables() if snap.has_table(t)}

    def begin(self) -> None:
        self.expected: list[tuple[str, str, str, str, int]] = []  # index, id, hash, root, size
        self.offloads: dict[str, list[tuple[str, str]]] = {}  # node execution -> (type, file id)
        self.deferred: dict[str, tuple[dict, str]] = {}  # node execution with offloads -> (row, root)
        self.failed: dict[str, str] = {}

    def _fail(self, root: str, why: str) -> None:
        self.failed.setdefault(root, why)
        if len(self.examples) < REPORTED:
            self.examples.append(why)

    def row(self, table: str, values: dict, root: str | None) -> None:
        if table == OFFLOAD_TABLE:
            self.offloads.setdefault(str(values["node_execution_id"]), []).append((values["type"], str(values["file_id"])))
            return
        dt = self.by_table[table]
        if root is None:
            raise AssertionError(f"a {table} row reached the proof without its root")
        try:
            row = row_from_json(values, self.types.get(table, {}))
        except ValueError as exc:
            self._fail(root, f"{dt.name} {values.get('id')}: a value the document cannot carry ({exc})")
            return
        if dt.offloads and str(row["id"]) in self.offloads:
            self.deferred[str(row["id"])] = (row, root)
            return
        self._expect(dt, row, root, None)

    def _expect(self, dt: DataType, row: dict, root: str, inlined: dict | None) -> None:
        doc_id = str(row["id"])
        try:
            doc = to_document(dt, row, inlined)
        except Refused as exc:
            self._fail(root, f"{dt.name} {doc_id}: {exc}")
            return
        index = index_name(self.prefix, dt, self.layout, str(row["tenant_id"]), month_label(row["created_at"]))
        body = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
        self.expected.append((index, doc_id, content_hash(doc), root, len(body)))

    def _inline_deferred(self, conn: psycopg.Connection) -> None:
        """Node executions with offloaded payloads: their files' keys (the upload_files rows
        stay), the content read from storage, then their documents."""
        if not self.deferred:
            return
        file_ids = sorted({file_id for node in self.deferred for _, file_id in self.offloads[node]})
        keys = {r["id"]: r["key"] for r in fetch_all(conn, "logstore/upload_keys.sql", {"ids": file_ids})}
        found = [
            {"node_execution_id": node, "type": kind, "key": keys.get(file_id)}
            for node in self.deferred
            for kind, file_id in self.offloads[node]
        ]
        inlined, failed = read_offloads(found, self.read)
        for node, (row, root) in self.deferred.items():
            if node in failed:
                self._fail(root, f"node_executions {node}: {failed[node]}")
            else:
                self._expect(self.by_table["workflow_node_executions"], row, root, inlined.get(node))

    def unproven(self, conn: psycopg.Connection) -> dict[str, str]:
        self._inline_deferred(conn)
        group: list[tuple[str, str, str, str, int]] = []
        size = 0
        for entry in self.expected:
            group.append(entry)
            size += entry[4]
            if len(group) >= MGET_IDS or size >= MGET_BYTES:
                self._compare(group)
                group, size = [], 0
        self._compare(group)
        return dict(self.failed)

    def _compare(self, group: list[tuple[str, str, str, str, int]]) -> None:
        if not group:
            return
        sources = fetch_sources(self.client, self.cluster, [(index, doc_id) for index, doc_id, *_ in group])
        for index, doc_id, wanted, root, _size in group:
            self.checked += 1
            if doc_id not in sources:
                self._fail(root, f"{index} has no document {doc_id}")
            elif content_hash(sources[doc_id]) != wanted:
                self._fail(root, f"{index} document {doc_id} differs from its row")
