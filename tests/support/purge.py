"""The retention engine run without Airflow, and the tables' fingerprints to compare before and
after (row count and an order-independent checksum per table)."""

from __future__ import annotations

import psycopg

from dify_maintenance.core import catalog
from dify_maintenance.core.db import url_connector
from dify_maintenance.core.policy import resolve
from dify_maintenance.retention import steps as retention
from dify_maintenance.retention import verify
from dify_maintenance.storage.stores import StoreConfig
from support.data import ANCHOR

TABLES = catalog.all_tables()


def fingerprints(url: str) -> dict[str, tuple[int, str]]:
    """Row count and order-independent checksum of every catalog table that exists."""
    out = {}
    with psycopg.connect(url) as conn:
        present = {r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'public'")}
        for table in sorted(TABLES & present):
            out[table] = conn.execute(
                f"select count(*), coalesce(md5(string_agg(md5(t::text), '' order by md5(t::text))), '') from {table} t"
            ).fetchone()
    return out


def run_all(url: str, store: StoreConfig | None, run_id: str, **params):
    connector = url_connector(url)
    pol = resolve(None, params)
    ctx = retention.preflight(connector, pol, dag_id="dify_retention", run_id=run_id, logical_date=ANCHOR)
    results = [retention.run_purge(connector, ctx, fam, pol, store) for fam in ctx["families"]]
    verified = verify.verify(connector, ctx, pol, results, store)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("delete from dify_maintenance.claim")
    return ctx, results, verified
