"""Reclaim benchmark: DELETE + VACUUM FULL against the copy-and-swap rebuild, same data, 5 % kept.

Usage: PYTHONPATH=plugins:. .venv/bin/python bench/reclaim.py [--runs 30000] [--keep 0.05] [--table workflow_node_executions]

Generates one Dify 1.14 template with the project's generator, picks the cutoff that keeps the
newest ``--keep`` share of the table, then on a fresh copy each (``CREATE DATABASE ... TEMPLATE``):

* delete + VACUUM FULL: ``DELETE ... WHERE created_at < cutoff`` then ``VACUUM (FULL, ANALYZE)``;
* rebuild: ``reclaim.rebuild`` keeping ``created_at >= cutoff`` (the rows never pass through DELETE).

It prints wall time, the longest time readers were locked out (ACCESS EXCLUSIVE held) and writers
were locked out (EXCLUSIVE or stronger), sampled every 10 ms from ``pg_locks`` and cross-checked
with the rebuild's own timing, peak extra disk (database size sampled), WAL written, the final
size, and a content checksum proving both kept exactly the same rows. Nothing asserts timings.
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from devtools import fixtures, generator, pgembed
from dify_maintenance.core.db import url_connector
from dify_maintenance.core.sqltemplates import register_templates, render
from dify_maintenance.database import reclaim

register_templates("bench", Path(__file__).resolve().parent / "sql")

ANCHOR = datetime(2026, 11, 22, 3, 0, 0)
READ_BLOCKING = {"AccessExclusiveLock"}
WRITE_BLOCKING = {"AccessExclusiveLock", "ExclusiveLock", "ShareRowExclusiveLock", "ShareLock"}


def q(conn: psycopg.Connection, template: str, params: dict | None = None, **ctx: object) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(render(template, **ctx), params or {})
        return list(cur.fetchall()) if cur.description else []


class LockSampler(threading.Thread):
    """Longest continuous stretch during which another session held a read- or write-blocking lock
    on the table, and the peak database size."""

    def __init__(self, url: str, table: str) -> None:
        super().__init__(daemon=True)
        self.conn = psycopg.connect(url, autocommit=True, row_factory=dict_row)
        self.table = table
        self.stop = threading.Event()
        self.start_bytes = q(self.conn, "bench/database_size.sql")[0]["bytes"]
        self.peak_bytes = self.start_bytes
        self.longest = {"reads": 0.0, "writes": 0.0}

    def run(self) -> None:
        since: dict[str, float | None] = {"reads": None, "writes": None}
        tick = 0
        while not self.stop.is_set():
            now = time.monotonic()
            modes = {r["mode"] for r in q(self.conn, "bench/locks_held.sql", {"table": self.table})}
            for kind, blocking in (("reads", READ_BLOCKING), ("writes", WRITE_BLOCKING)):
                if modes & blocking:
                    since[kind] = since[kind] or now
                    self.longest[kind] = max(self.longest[kind], now - since[kind])
                else:
                    since[kind] = None
            tick += 1
            if tick % 5 == 0:
                self.peak_bytes = max(self.peak_bytes, q(self.conn, "bench/database_size.sql")[0]["bytes"])
            time.sleep(0.01)
        self.conn.close()


@dataclass
class Outcome:
    name: str
    seconds: float
    reads_blocked: float
    writes_blocked: float
    extra_disk: int
    wal: int
    table_bytes_after: int
    content: tuple


def content_of(conn: psycopg.Connection, table: str) -> tuple:
    return tuple(q(conn, "bench/content_hash.sql", table=table)[0].values())


def measure(admin: str, template: str, table: str, cutoff: datetime, name: str) -> Outcome:
    url = fixtures.copy_database(admin, template, f"{template}_{name}")
    try:
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
            lsn = q(conn, "bench/wal_lsn.sql")[0]["lsn"]
            sampler = LockSampler(url, table)
            sampler.start()
            started = time.monotonic()
            own_exclusive = 0.0
            if name == "delete_vacuum_full":
                q(conn, "bench/naive_delete.sql", {"cutoff": cutoff}, table=table)
                full_started = time.monotonic()
                q(conn, "reclaim/vacuum_full.sql", table=table)
                own_exclusive = time.monotonic() - full_started
            else:
                result = reclaim.rebuild(
                    url_connector(url), table, keep_column="created_at", keep_from=cutoff, lock_timeout_ms=5000
                )
                own_exclusive = result["exclusive_seconds"]
            seconds = time.monotonic() - started
            sampler.stop.set()
            sampler.join()
            wal = q(conn, "bench/wal_bytes.sql", {"since": lsn})[0]["bytes"]
            after = q(conn, "bench/table_stats.sql", {"table": table})[0]["total_bytes"]
            kept = content_of(conn, table)
        writes_blocked = sampler.longest["writes"] if name == "rebuild" else max(sampler.longest["writes"], own_exclusive)
        return Outcome(
            name,
            seconds,
            max(sampler.longest["reads"], own_exclusive),
            writes_blocked,
            sampler.peak_bytes - sampler.start_bytes,
            wal,
            after,
            kept,
        )
    finally:
        fixtures.drop_database(admin, f"{template}_{name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30_000, help="workflow runs to generate (about 17 node executions each)")
    parser.add_argument("--keep", type=float, default=0.05, help="share of the table that is kept")
    parser.add_argument("--table", default="workflow_node_executions")
    parser.add_argument("--keep-template", action="store_true")
    args = parser.parse_args()
    admin, where = pgembed.admin_url("DIFY_MAINT_BENCH_PG_URL")
    print(f"PostgreSQL: {where}", flush=True)
    template = f"dm_bench_reclaim_{uuid.uuid4().hex[:6]}"
    try:
        url = fixtures.recreate_database(admin, template)
        fixtures.load_sql(url, fixtures.fixture_schema("1.14"))
        started = time.monotonic()
        generator.generate(url_connector(url), anchor=ANCHOR, scale=generator.Scale(runs=args.runs))
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
            q(conn, "vacuum/vacuum_analyze.sql", table=args.table)
            rows = q(conn, "bench/row_count.sql", table=args.table)[0]["n"]
            size = q(conn, "bench/table_stats.sql", {"table": args.table})[0]["total_bytes"]
            cutoff = q(conn, "bench/keep_cutoff.sql", {"keep": args.keep}, table=args.table)[0]["cutoff"]
        print(
            f"template: {rows:,} rows in {args.table}, {size / 1e6:,.0f} MB, built in {time.monotonic() - started:.0f} s; "
            f"keeping created_at >= {cutoff} ({args.keep:.0%})",
            flush=True,
        )
        results = []
        for name in ("delete_vacuum_full", "rebuild"):
            outcome = measure(admin, template, args.table, cutoff, name)
            results.append(outcome)
            print(
                f"  {name:20} {outcome.seconds:8.2f} s  reads blocked {outcome.reads_blocked:7.3f} s  "
                f"writes blocked {outcome.writes_blocked:7.3f} s  extra disk {outcome.extra_disk / 1e6:8.1f} MB  "
                f"WAL {outcome.wal / 1e6:8.1f} MB  table after {outcome.table_bytes_after / 1e6:7.1f} MB",
                flush=True,
            )
        full, rebuilt = results
        same = "identical" if full.content == rebuilt.content else "DIFFERENT"
        print(f"kept content: {same} ({rebuilt.content[0]:,} rows)")
        print(f"ratio time delete+VACUUM FULL / rebuild: {full.seconds / rebuilt.seconds:.2f}x (target >= 3)")
        print(f"ratio reads blocked: {full.reads_blocked / max(rebuilt.reads_blocked, 1e-3):.0f}x longer under VACUUM FULL")
        print(f"ratio WAL: {full.wal / max(rebuilt.wal, 1):.2f}x", end="; ")
        print(f"peak extra disk: {full.extra_disk / max(rebuilt.extra_disk, 1):.2f}x")
    finally:
        if not args.keep_template:
            fixtures.drop_database(admin, template)


if __name__ == "__main__":
    main()
