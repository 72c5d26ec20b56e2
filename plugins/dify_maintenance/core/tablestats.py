"""A table's size, live and dead tuples and reclaimable bytes: read after a purge's VACUUM and
before a reclaim decides how to rewrite. Measured by pgstattuple_approx when the extension is
installed (exact enough, reads the visibility map), else estimated from the statistics."""

from __future__ import annotations

import psycopg

from dify_maintenance.core.db import fetch_all, fetch_one
from dify_maintenance.core.errors import MaintenanceError


def installed_extensions(conn: psycopg.Connection, names: list[str]) -> dict[str, str]:
    """The named extensions installed in this database, with their versions."""
    return {r["extname"]: r["extversion"] for r in fetch_all(conn, "tablestats/has_extension.sql", {"names": names})}


def has_pgstattuple(conn: psycopg.Connection) -> bool:
    return "pgstattuple" in installed_extensions(conn, ["pgstattuple"])


def measure(conn: psycopg.Connection, table: str, pgstattuple: bool) -> dict:
    """Size, live and dead tuples, and reclaimable bytes, measured (pgstattuple_approx) or estimated."""
    row = fetch_one(conn, "tablestats/stats_approx.sql" if pgstattuple else "tablestats/stats_estimate.sql", {"table": table})
    if row is None:
        raise MaintenanceError(f"table {table} does not exist")
    stats = {k: (int(v) if k != "method" else v) for k, v in row.items()}
    heap = max(stats["heap_bytes"], 1)
    stats["reclaimable_fraction"] = round(min(stats["reclaimable_bytes"] / heap, 1.0), 4)
    return stats
