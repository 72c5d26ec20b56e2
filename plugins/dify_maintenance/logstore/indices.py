"""What the cluster holds (status) and dropping whole indices by age (the guide's
``ELASTICSEARCH_RETENTION_DAYS``): an index per month makes retention one cheap DELETE per
index, and neither ILM nor data streams are needed (OpenSearch-compatible servers lack them).

Dropping is irreversible, so it is a dry run unless asked for with the cluster's name typed, and
a scheduled run stays a dry run until the deployment's Variable says otherwise: unpausing the DAG
also starts the run it missed, which must not drop anything on its own."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from opensearchpy import OpenSearch

from dify_maintenance.core import state
from dify_maintenance.core.db import Connector, connection, fetch_all
from dify_maintenance.core.errors import InvalidPolicy
from dify_maintenance.core.schema import snapshot
from dify_maintenance.logstore.cluster import ClusterConfig, ClusterInfo, health, with_retries
from dify_maintenance.logstore.documents import DATA_TYPES, month_label
from dify_maintenance.logstore.reader import Window

_MONTH = re.compile(r"-(\d{4})\.(\d{2})$")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def parse_index(prefix: str, name: str) -> dict | None:
    """(data type, tenant or None, month) of one of our index names; None for any other index."""
    for dt in DATA_TYPES.values():
        head = f"{prefix}-{dt.index_stem}-"
        if not name.startswith(head) or not (m := _MONTH.search(name)):
            continue
        middle = name[len(head) : m.start()]
        if middle and not _UUID.fullmatch(middle):
            continue
        return {"data_type": dt.name, "tenant_id": middle or None, "month": f"{m.group(1)}.{m.group(2)}"}
    return None


def our_indices(client: OpenSearch, cluster: ClusterConfig, prefix: str) -> list[dict]:
    found = with_retries(cluster, "list indices", lambda: client.cat.indices(index=f"{prefix}-*", format="json"))
    result = []
    for entry in found:
        parsed = parse_index(prefix, entry["index"])
        if parsed:
            result.append(
                {
                    **parsed,
                    "index": entry["index"],
                    "documents": int(entry.get("docs.count") or 0),
                    "size": entry.get("store.size"),
                }
            )
    return sorted(result, key=lambda e: e["index"])


def expired(indices: list[dict], moment: datetime, retention_days: int) -> list[dict]:
    """Indices whose whole month is older than ``retention_days`` at ``moment``."""
    limit = moment - timedelta(days=retention_days)
    out = []
    for entry in indices:
        year, month = (int(p) for p in entry["month"].split("."))
        month_end = datetime(year + month // 12, month % 12 + 1, 1)
        if month_end <= limit:
            out.append(entry)
    return out


def check_confirmation(values: dict, info: ClusterInfo) -> None:
    """A real run names the cluster it drops indices from, typed by a person (or the Variable)."""
    if not values["dry_run"] and values.get("confirm_cluster") != info.name:
        raise InvalidPolicy(
            f"a real run drops whole indices: type the cluster's name {info.name!r} into confirm_cluster "
            f"(got {values.get('confirm_cluster')!r}), or leave dry_run on"
        )


def drop_expired(
    client: OpenSearch, cluster: ClusterConfig, prefix: str, moment: datetime, retention_days: int, dry_run: bool
) -> dict:
    gone = expired(our_indices(client, cluster, prefix), moment, retention_days)
    dropped = []
    if not dry_run:
        for entry in gone:
            with_retries(
                cluster, f"delete {entry['index']}", lambda entry=entry: client.indices.delete(index=entry["index"], ignore=404)
            )
            dropped.append(entry["index"])
    return {
        "retention_days": retention_days,
        "prefix": prefix,
        "limit": (moment - timedelta(days=retention_days)).isoformat(),
        "dropped" if not dry_run else "would_drop": [e["index"] for e in gone],
        "documents": sum(e["documents"] for e in gone),
        "per_index": [{"index": e["index"], "documents": e["documents"]} for e in gone][:200],
        "dry_run": dry_run,
    }


RETENTION_TITLE = "Dify workflow-log index retention report"


def retention_report(result: dict | None, errors: dict[str, str]) -> dict:
    """What an index-retention run dropped (or would drop), for history, the note and the page."""
    error = state.first_error(errors)
    if result is None:
        return {
            "outcome": "failed",
            "error": error or "did not run",
            "errors": errors,
            "dry_run": True,
            "indices": 0,
            "documents": 0,
        }
    names = result.get("dropped") if not result["dry_run"] else result.get("would_drop")
    count = len(names or [])
    label = "indices dropped" if not result["dry_run"] else "indices it would drop"
    return {
        **result,
        "outcome": "failed" if error else "success",
        "error": error,
        "errors": errors,
        "indices": count,
        "page_counts": {label: count, "documents": result["documents"]},
        "summary_line": f"{count} {label} ({result['documents']:,} documents), months ended before {result['limit'][:10]}",
    }


def retention_lines(rep: dict) -> list[str]:
    lines = [RETENTION_TITLE + ("  DRY RUN" if rep["dry_run"] else ""), f"outcome: {rep['outcome']}"]
    if rep.get("error"):
        lines.append(f"error: {rep['error']}")
    if "summary_line" in rep:
        lines.append(f"cluster {rep.get('cluster', '?')}, prefix {rep['prefix']}, retention {rep['retention_days']} days")
        lines.append(rep["summary_line"])
        lines.extend(f"  {e['index']}: {e['documents']:,} documents" for e in rep["per_index"])
        if rep["dry_run"]:
            lines.append(
                "a dry run: nothing was dropped (a real run needs dry_run off and the cluster's name in confirm_cluster)"
            )
    return lines


def retention_note_lines(rep: dict) -> list[str]:
    """The run note's lines (the title, the outcome and the error are the note's own)."""
    return [rep["summary_line"]] if "summary_line" in rep else []


def status(connector: Connector, client: OpenSearch, cluster: ClusterConfig, prefix: str, tenants: tuple[str, ...] = ()) -> dict:
    """Per tenant and data type: rows in PostgreSQL, documents in the cluster, the streams'
    watermarks and what is left; and the cluster's health."""
    indices = our_indices(client, cluster, prefix)
    docs: dict[tuple[str, str | None], int] = {}
    for e in indices:
        docs[(e["data_type"], e["tenant_id"])] = docs.get((e["data_type"], e["tenant_id"]), 0) + e["documents"]
    window = Window(datetime(1970, 1, 1), datetime(9999, 1, 1), tenants)
    per: dict[tuple[str, str], dict] = {}
    with connection(connector) as conn:
        snap = snapshot(conn)
        for dt in DATA_TYPES.values():
            if not snap.has_table(dt.table):
                continue
            for row in fetch_all(conn, "logstore/counts.sql", window.params(), table=dt.table, tenants=bool(tenants)):
                entry = per.setdefault(
                    (dt.name, row["tenant_id"]), {"data_type": dt.name, "tenant_id": row["tenant_id"], "rows": 0, "months": []}
                )
                entry["rows"] += row["rows"]
                entry["months"].append(month_label(row["month"]))
        state.ensure_schema(conn)
        marks = fetch_all(conn, "logstore/watermarks.sql", {"cluster": cluster.describe(), "prefix": prefix})
    for entry in per.values():
        entry["documents"] = docs.get((entry["data_type"], entry["tenant_id"]), 0)
        entry["left"] = max(0, entry["rows"] - entry["documents"])
        entry["months"] = sorted(set(entry["months"]))
    streams = [
        {
            "data_type": m["data_type"],
            "month": m["month"].strftime("%Y.%m"),
            "tenants": m["tenants"],
            "watermark": [m["after_at"].isoformat(), m["after_id"]] if m["after_at"] else None,
            "created": m["docs_created"],
            "rewritten": m["docs_existing"],
            "rejected": m["docs_rejected"],
            "done": m["done"],
        }
        for m in marks
    ]
    return {
        "cluster": cluster.describe(),
        "health": health(client, cluster),
        "tenants": sorted(per.values(), key=lambda e: (e["tenant_id"], e["data_type"])),
        "indices": len(indices),
        "streams": streams,
        "monthly_layout_documents": {k[0]: v for k, v in docs.items() if k[1] is None},
    }
