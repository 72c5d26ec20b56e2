"""Peak memory of a purge whose batch holds a few huge rows: the batch statement streams each
deleted row into its table's archive part as it arrives, so the worker holds about one row at a
time, and the batch after one that archived more than ``batch_target_mb`` is sized down to it.

Usage: PYTHONPATH=plugins:. .venv/bin/python bench/memory.py [--rows 6] [--mb 50] [--runs 300]

Two copies of one Dify 1.14 database from the generator: in one, ``--rows`` old node executions of
the oldest ended runs (one batch) get ``outputs`` of ``--mb`` MB each (random hex: it compresses
about 2:1, nothing like real repetition). The retention engine (workflow logs, archive on, to a
local folder) runs in a fresh interpreter on each; printed: each one's peak resident memory
(``VmHWM``) and the difference. Nothing asserts.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def worker(url: str, logical_date: str) -> None:
    from dify_maintenance.core.db import url_connector
    from dify_maintenance.core.policy import resolve
    from dify_maintenance.retention import steps as retention
    from dify_maintenance.storage.stores import StoreConfig

    pol = resolve(None, {"families": ["workflow_logs"], "archive": True, "time_budget_minutes": 0})
    connector = url_connector(url)
    ctx = retention.preflight(
        connector, pol, dag_id="bench", run_id=f"memory-{uuid.uuid4().hex[:8]}", logical_date=datetime.fromisoformat(logical_date)
    )
    with tempfile.TemporaryDirectory(prefix="dm-bench-memory-") as root:
        result = retention.run_purge(connector, ctx, "workflow_logs", pol, StoreConfig("fs", {"root": root}))
    deleted = sum(c["deleted"] for c in result["tables"].values())
    print(f"{peak_mb():.1f} {deleted} {result['batch_sizes']['workflow_runs']['min']}")


def generated_database(name: str, runs: int) -> tuple[str, datetime, str]:
    """A generated Dify 1.14 database ``name`` with ``runs`` workflow runs, dated by the server's
    clock: (admin URL, that moment, the database's URL)."""
    import psycopg

    from devtools import fixtures, generator, pgembed
    from dify_maintenance.core.db import url_connector

    admin, _ = pgembed.admin_url("DIFY_MAINT_TEST_PG_URL")
    with psycopg.connect(admin) as conn:
        anchor = conn.execute("SELECT now() AT TIME ZONE 'UTC'").fetchone()[0].replace(microsecond=0)
    url = fixtures.recreate_database(admin, name)
    fixtures.load_sql(url, fixtures.fixture_schema("1.14"))
    generator.generate(url_connector(url), anchor=anchor, scale=generator.Scale(runs=runs, tenants=2))
    return admin, anchor, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=6)
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--worker", nargs=2, metavar=("URL", "LOGICAL_DATE"))
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    import psycopg

    from devtools import fixtures

    admin, anchor, plain = generated_database("dm_bench_memory_plain", args.runs)
    big = fixtures.copy_database(admin, "dm_bench_memory_plain", "dm_bench_memory_big")
    with psycopg.connect(big, autocommit=True) as conn:
        conn.execute(
            """
            UPDATE workflow_node_executions SET outputs = (
                SELECT string_agg(md5(random()::text || g), '') FROM generate_series(1, %(pieces)s) AS g)
            WHERE id IN (
                SELECT DISTINCT ON (r.id) n.id FROM workflow_runs r JOIN workflow_node_executions n ON n.workflow_run_id = r.id
                WHERE r.status = 'succeeded' AND r.created_at < %(cutoff)s ORDER BY r.id, n.id LIMIT %(rows)s)
            """,
            {"pieces": args.mb * 1024 * 1024 // 32, "rows": args.rows, "cutoff": anchor - timedelta(days=35)},
        )
    results = {}
    for name, url in (("without", plain), (f"{args.rows} rows of {args.mb} MB", big)):
        out = subprocess.run(  # noqa: S603 - our own script, argv only
            [sys.executable, __file__, "--worker", url, anchor.replace(tzinfo=UTC).isoformat()],
            capture_output=True,
            text=True,
            check=True,
        )
        peak, deleted, smallest = out.stdout.split()[-3:]
        results[name] = float(peak)
        print(f"{name:>22}: peak {float(peak):7.1f} MB, {int(deleted):,} rows deleted, smallest batch {smallest} runs")
    for name in ("dm_bench_memory_big", "dm_bench_memory_plain"):
        fixtures.drop_database(admin, name)
    base, loaded = results["without"], results[f"{args.rows} rows of {args.mb} MB"]
    print(f"peak with the big rows: {loaded:.1f} MB ({loaded - base:+.1f} MB over the same purge without them)")


if __name__ == "__main__":
    main()
