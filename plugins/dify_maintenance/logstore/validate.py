"""Prove a window's rows are in the cluster before anything may delete them from PostgreSQL.

Three checks, per data type: counts per index (PostgreSQL's rows per tenant and month against
the documents of that index in the same window), every row's id present (``_mget``, no source),
and a sample (reservoir-sampled while the ids stream by) compared field by field with the
document the row makes today, offloaded payloads included. The verdict is recorded; cleanup-pg
deletes only inside a window whose newest validation passed.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime
from typing import Any

from opensearchpy import OpenSearch
from psycopg.types.json import Jsonb

from dify_maintenance.core.db import Connector, connection, fetch_all, fetch_one
from dify_maintenance.core.schema import snapshot
from dify_maintenance.logstore.cluster import ClusterConfig, with_retries
from dify_maintenance.logstore.documents import DATA_TYPES, DataType, index_name, index_pattern, month_label, normalized
from dify_maintenance.logstore.migrate import Request, window_of
from dify_maintenance.logstore.reader import Fetch, Window, documents_of, offloads_of, rows_after, table_columns

log = logging.getLogger(__name__)

MGET_IDS = 1_000
REPORTED = 50


def _iso(moment: datetime) -> str:
    return moment.isoformat() + "Z"


def _window_query(window: Window, tenant: str | None = None) -> dict:
    filters: list[dict] = [{"range": {"created_at": {"gte": _iso(window.lo), "lt": _iso(window.hi)}}}]
    if tenant:
        filters.append({"term": {"tenant_id": tenant}})
    return {"query": {"bool": {"filter": filters}}}


def _cluster_count(client: OpenSearch, cluster: ClusterConfig, index: str, window: Window, tenant: str | None) -> int:
    found = with_retries(
        cluster,
        f"count {index}",
        lambda: client.count(index=index, body=_window_query(window, tenant), ignore_unavailable=True, allow_no_indices=True),
    )
    return int(found.get("count", 0))


def compare_counts(conn, client: OpenSearch, cluster: ClusterConfig, req: Request, dt: DataType, window: Window) -> list[dict]:
    """Rows per (tenant, month) in PostgreSQL against the documents of the index they belong to."""
    rows = fetch_all(conn, "logstore/counts.sql", window.params(), table=dt.table, tenants=bool(window.tenants))
    found = []
    for row in rows:
        month = month_label(row["month"])
        index = index_name(req.prefix, dt, req.layout, row["tenant_id"], month)
        docs = _cluster_count(client, cluster, index, window, row["tenant_id"] if req.layout == "monthly" else None)
        found.append({"index": index, "tenant_id": row["tenant_id"], "month": month, "rows": row["rows"], "documents": docs})
    # documents in the window that PostgreSQL has no row for (say, deleted after the migration)
    if not window.tenants:
        total = _cluster_count(client, cluster, index_pattern(req.prefix, dt), window, None)
        expected = sum(r["rows"] for r in rows)
        if total != expected and all(r["rows"] == r["documents"] for r in found):
            found.append(
                {"index": index_pattern(req.prefix, dt), "tenant_id": None, "month": None, "rows": expected, "documents": total}
            )
    return found


def _mget(client: OpenSearch, cluster: ClusterConfig, refs: list[tuple[str, str]], source: bool) -> dict[str, dict]:
    body = {"docs": [{"_index": index, "_id": doc_id} for index, doc_id in refs]}
    found = with_retries(cluster, "mget", lambda: client.mget(body=body, _source=source))
    return {d["_id"]: d for d in found.get("docs", []) if d.get("found")}


def _differences(expected: Any, got: Any) -> list[tuple[str, Any, Any]]:
    if not isinstance(expected, dict) or not isinstance(got, dict):
        return [("(document)", expected, got)] if expected != got else []
    return [(k, expected.get(k), got.get(k)) for k in sorted(set(expected) | set(got)) if expected.get(k) != got.get(k)]


def _short(value: Any) -> Any:
    text = repr(value)
    return value if len(text) <= 120 else text[:117] + "..."


def check_data_type(
    connector: Connector,
    client: OpenSearch,
    cluster: ClusterConfig,
    req: Request,
    dt: DataType,
    read: Fetch | None,
    sample_size: int,
    seed: str,
) -> dict:
    window = window_of(req)
    rng = random.Random(seed)  # noqa: S311 - a reproducible sample, not a secret
    sample: list[tuple[str, str]] = []
    missing: list[dict] = []
    missing_count = seen = 0
    with connection(connector) as conn:
        counts = compare_counts(conn, client, cluster, req, dt, window)
        for page in rows_after(conn, dt, ["id", "tenant_id", "created_at"], window, None):
            refs = [
                (index_name(req.prefix, dt, req.layout, str(r["tenant_id"]), month_label(r["created_at"])), str(r["id"]))
                for r in page
            ]
            for start in range(0, len(refs), MGET_IDS):
                part = refs[start : start + MGET_IDS]
                present = _mget(client, cluster, part, source=False)
                for index, doc_id in part:
                    if doc_id not in present:
                        missing_count += 1
                        if len(missing) < REPORTED:
                            missing.append({"index": index, "id": doc_id})
            for ref in refs:  # reservoir sampling: every row equally likely, one pass, bounded memory
                seen += 1
                if len(sample) < sample_size:
                    sample.append(ref)
                elif (j := rng.randrange(seen)) < sample_size:
                    sample[j] = ref
        differences: list[dict] = []
        compared = 0
        if sample:
            columns = table_columns(conn, dt.table)
            rows = fetch_all(
                conn, "logstore/rows_by_id.sql", {"ids": [doc_id for _, doc_id in sample]}, table=dt.table, columns=columns
            )
            docs = _mget(client, cluster, sample, source=True)
            for _key, index, doc, why in documents_of(conn, dt, rows, req.prefix, req.layout, read, offloads_of(conn, dt)):
                doc_id = _key[1]
                if doc_id not in docs:
                    continue  # reported as missing above
                compared += 1
                if doc is None:
                    differences.append(
                        {"index": index, "id": doc_id, "field": "(document)", "expected": why, "found": "in the cluster"}
                    )
                    continue
                for name, want, got in _differences(normalized(doc), docs[doc_id].get("_source")):
                    differences.append(
                        {"index": index, "id": doc_id, "field": name, "expected": _short(want), "found": _short(got)}
                    )
    count_mismatches = [c for c in counts if c["rows"] != c["documents"]]
    return {
        "data_type": dt.name,
        "rows": sum(c["rows"] for c in counts if c["tenant_id"] is not None),
        "documents": sum(c["documents"] for c in counts if c["tenant_id"] is not None),
        "indices": len([c for c in counts if c["tenant_id"] is not None]),
        "count_mismatches": count_mismatches[:REPORTED],
        "ids_checked": seen,
        "missing": missing,
        "missing_count": missing_count,
        "sampled": compared,
        "differences": differences[:REPORTED],
        "difference_count": len(differences),
        "passed": not count_mismatches and not missing_count and not differences,
    }


def validate(
    connector: Connector,
    client: OpenSearch,
    cluster: ClusterConfig,
    req: Request,
    read: Fetch | None,
    *,
    run_key: str,
    moment: datetime,
) -> dict:
    """Validate every data type of the request in its window, record the verdict, return it."""
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
        check_data_type(connector, client, cluster, req, DATA_TYPES[name], read, req.sample_size, seed=f"{run_key}/{name}")
        for name in req.data_types
        if snap.has_table(DATA_TYPES[name].table)
    ]
    passed = all(r["passed"] for r in results)
    summary = {"data_types": results, "passed": passed}
    with connection(connector) as conn:
        row = fetch_one(
            conn,
            "logstore/validation_save.sql",
            {
                "run_key": run_key,
                "cluster": cluster.describe(),
                "prefix": req.prefix,
                "layout": req.layout,
                "data_types": list(req.data_types),
                "tenants": list(req.tenants) or None,
                "window_start": req.window_start,
                "window_end": req.window_end,
                "passed": passed,
                "validated_at": moment,
                "summary": Jsonb(summary),
            },
        )
    assert row is not None
    log.info("validation %s: %s", row["id"], "PASSED" if passed else "FAILED")
    return {
        **summary,
        "validation_id": row["id"],
        "window_start": req.window_start and req.window_start.isoformat(),
        "window_end": req.window_end.isoformat(),
    }
