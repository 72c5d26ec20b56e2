"""Is every PostgreSQL row of the window in the cluster, as it is now?

Per data type, every row of the window is rendered as the document it makes today (offloaded
payloads included) and compared with the cluster's document by a hash of its content; a
difference is reported field by field. Only that direction is asked: a document whose row is gone
(cleanup-pg deleted it) or a month whose rows are all gone does not fail it, so the weekly cycle
validates again after every cleanup and index retention. A row whose document could not be made
(refused payload, missing offload file, over the cluster's request limit) fails it by id.

The verdict is recorded with what it checked: the cluster's UUID, its product, the prefix and
layout, and the database's time of the check. cleanup-pg takes the newest such verdict for its
cluster; and it still checks each row's document again at the moment of deleting it.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from opensearchpy import OpenSearch
from psycopg.types.json import Jsonb

from dify_maintenance.core.db import Connector, connection, fetch_one
from dify_maintenance.core.memory import return_big_buffers
from dify_maintenance.core.schema import snapshot
from dify_maintenance.logstore.cluster import ClusterConfig, ClusterInfo, with_retries
from dify_maintenance.logstore.documents import DATA_TYPES, DataType, content_hash, index_pattern
from dify_maintenance.logstore.migrate import Request, window_of
from dify_maintenance.logstore.reader import Fetch, documents_of, offloads_of, rows_after, table_columns

log = logging.getLogger(__name__)

MGET_IDS = 500
MGET_BYTES = 8 * 1024 * 1024
REPORTED = 50


def fetch_sources(client: OpenSearch, cluster: ClusterConfig, refs: list[tuple[str, str]]) -> dict[str, dict]:
    """The cluster's documents for (index, id) pairs, as it holds them now; absent ids are left out."""
    body = {"docs": [{"_index": index, "_id": doc_id} for index, doc_id in refs]}
    found = with_retries(cluster, "mget", lambda: client.mget(body=body))
    return {d["_id"]: d.get("_source") or {} for d in found.get("docs", []) if d.get("found")}


def differences(expected: Any, got: Any) -> list[tuple[str, Any, Any]]:
    if not isinstance(expected, dict) or not isinstance(got, dict):
        return [("(document)", expected, got)] if expected != got else []
    return [(k, expected.get(k), got.get(k)) for k in sorted(set(expected) | set(got)) if expected.get(k) != got.get(k)]


def _short(value: Any) -> Any:
    text = repr(value)
    return value if len(text) <= 120 else text[:117] + "..."


class _Tally:
    """One data type's findings, the first ``REPORTED`` of each kind by id."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.rows = self.checked = self.missing_count = self.difference_count = self.rejected_count = 0
        self.missing: list[dict] = []
        self.differences: list[dict] = []
        self.rejected: list[dict] = []

    def compare(self, client: OpenSearch, cluster: ClusterConfig, group: list[tuple[str, str, dict]]) -> None:
        if not group:
            return
        found = fetch_sources(client, cluster, [(index, doc_id) for index, doc_id, _ in group])
        for index, doc_id, doc in group:
            self.checked += 1
            if doc_id not in found:
                self.missing_count += 1
                if len(self.missing) < REPORTED:
                    self.missing.append({"index": index, "id": doc_id})
                continue
            source = found[doc_id]
            if content_hash(doc) == content_hash(source):
                continue
            self.difference_count += 1
            if len(self.differences) < REPORTED:
                wanted = orjson.loads(orjson.dumps(doc))
                self.differences.extend(
                    {"index": index, "id": doc_id, "field": name, "expected": _short(want), "found": _short(got)}
                    for name, want, got in differences(wanted, source)[:5]
                )

    def summary(self) -> dict:
        return {
            "data_type": self.name,
            "rows": self.rows,
            "checked": self.checked,
            "missing_count": self.missing_count,
            "missing": self.missing,
            "difference_count": self.difference_count,
            "differences": self.differences[:REPORTED],
            "rejected_count": self.rejected_count,
            "rejected": self.rejected,
            "passed": not (self.missing_count or self.difference_count or self.rejected_count),
        }


def check_data_type(
    connector: Connector, client: OpenSearch, cluster: ClusterConfig, req: Request, dt: DataType, read: Fetch | None
) -> dict:
    """Every row of the window against its document in the cluster."""
    window = window_of(req)
    tally = _Tally(dt.name)
    with connection(connector) as conn:
        columns = table_columns(conn, dt.table)
        offloads = offloads_of(conn, dt)
        group: list[tuple[str, str, dict]] = []
        size = 0
        for page in rows_after(conn, dt, columns, window, None):
            for key, index, doc, why in documents_of(conn, dt, page, req.prefix, req.layout, read, offloads):
                tally.rows += 1
                if doc is None:
                    tally.rejected_count += 1
                    if len(tally.rejected) < REPORTED:
                        tally.rejected.append({"index": index, "id": key[1], "reason": why})
                    continue
                group.append((index, key[1], doc))
                size += len(orjson.dumps(doc))
                if len(group) >= MGET_IDS or size >= MGET_BYTES:
                    tally.compare(client, cluster, group)
                    group, size = [], 0
        tally.compare(client, cluster, group)
    return tally.summary()


def validate(
    connector: Connector,
    client: OpenSearch,
    cluster: ClusterConfig,
    req: Request,
    read: Fetch | None,
    *,
    run_key: str,
    info: ClusterInfo,
) -> dict:
    """Validate every data type of the request in its window, record the verdict, return it."""
    return_big_buffers()
    with connection(connector) as conn:
        snap = snapshot(conn)
    for name in req.data_types:
        with_retries(
            cluster,
            "refresh",
            lambda name=name: client.indices.refresh(
                index=index_pattern(req.prefix, DATA_TYPES[name]), ignore_unavailable=True, allow_no_indices=True
            ),
        )
    results = [
        check_data_type(connector, client, cluster, req, DATA_TYPES[name], read)
        for name in req.data_types
        if snap.has_table(DATA_TYPES[name].table)
    ]
    passed = all(r["passed"] for r in results)
    not_readable = info.not_readable_by_dify(req.prefix, req.layout)
    summary = {"data_types": results, "passed": passed, "cluster_info": info.to_dict(), "not_readable_by_dify": not_readable}
    with connection(connector) as conn:
        row = fetch_one(
            conn,
            "logstore/validation_save.sql",
            {
                "run_key": run_key,
                "cluster": cluster.describe(),
                "cluster_uuid": info.uuid,
                "product": f"{info.product} {info.version}",
                "readable_by_dify": not not_readable,
                "prefix": req.prefix,
                "layout": req.layout,
                "data_types": list(req.data_types),
                "tenants": list(req.tenants) or None,
                "window_start": req.window_start,
                "window_end": req.window_end,
                "passed": passed,
                "summary": Jsonb(summary),
            },
        )
    assert row is not None
    log.info("validation %s: %s", row["id"], "PASSED" if passed else "FAILED")
    return {
        **summary,
        "validation_id": row["id"],
        "validated_at": row["validated_at"].isoformat(),
        "window_start": req.window_start and req.window_start.isoformat(),
        "window_end": req.window_end.isoformat(),
    }
