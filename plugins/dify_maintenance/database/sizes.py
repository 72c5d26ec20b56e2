"""Hourly snapshots of every Dify table's size and row estimates: the growth curves of the
maintenance page. Cheap by design (the catalog and the statistics collector, no table read), and
a year is kept. Dated by the database's clock, like the history rows the page draws beside them
(a worker's clock may differ; the page measures everything on the database's)."""

from __future__ import annotations

from dify_maintenance.core import state
from dify_maintenance.core.db import Connector, connection, execute

KEEP_DAYS = 365


def snapshot(connector: Connector, keep_days: int = KEEP_DAYS) -> dict:
    with connection(connector) as conn:
        state.ensure_schema(conn)
        with conn.transaction():
            tables = execute(conn, "sizes/snapshot.sql")
            pruned = execute(conn, "sizes/prune.sql", {"keep_days": keep_days})
            execute(conn, "sizes/prune_history.sql", {"keep_days": keep_days})
    return {"tables": tables, "pruned": pruned}
