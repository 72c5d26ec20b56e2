"""Generator throughput: node-execution rows per second for both fixture generations.

Usage: PYTHONPATH=plugins:. .venv/bin/python bench/generate.py [--runs N]
The issue's target is at least 50,000 node-execution rows per second; the script prints the
measured rate and its ratio to that target. Uses $DIFY_MAINT_TEST_PG_URL, 127.0.0.1:5432 or
the embedded server, in a scratch database it drops afterwards.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime

import psycopg

from devtools import fixtures, generator, pgembed
from dify_maintenance.core.db import url_connector

TARGET_ROWS_PER_SECOND = 50_000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=generator.DEFAULT_WORKERS)
    args = parser.parse_args()
    admin, where = pgembed.admin_url("DIFY_MAINT_TEST_PG_URL")
    print(f"server: {where}; {args.runs} workflow runs per generation, {args.workers} sessions")
    for generation in fixtures.GENERATIONS:
        url = fixtures.recreate_database(admin, "dm_bench_generate")
        fixtures.load_sql(url, fixtures.fixture_schema(generation))
        started = time.monotonic()
        timings = generator.generate(
            url_connector(url), anchor=datetime(2026, 11, 22), scale=generator.Scale(runs=args.runs), workers=args.workers
        )
        total = time.monotonic() - started
        with psycopg.connect(url) as conn:
            nodes = conn.execute("select count(*) from workflow_node_executions").fetchone()[0]
            size = conn.execute("select pg_database_size(current_database())").fetchone()[0]
        rate = nodes / timings["07_node_executions"]
        print(
            f"{generation}: {nodes} node executions in {timings['07_node_executions']:.2f}s = {rate:,.0f} rows/s "
            f"(ratio to target {rate / TARGET_ROWS_PER_SECOND:.2f}); whole database {size / 1e6:.0f} MB in {total:.1f}s"
        )
        fixtures.drop_database(admin, "dm_bench_generate")


if __name__ == "__main__":
    main()
