"""Where a purge's time goes: seconds per statement template and table, one engine run.

    PYTHONPATH=plugins:. .venv/bin/python bench/profile_purge.py --runs 30000 [--keep-template]

Builds (or reuses, with --reuse) a generated Dify 1.14 template, runs the engine (archive off, the
families one after another so no statement waits for another family's) on a copy, and prints
the time of every statement the batches ran, grouped by template and table. Wraps the engine's
statement helpers; changes nothing in it.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from datetime import datetime

import psycopg

from bench.engine_run import BATCH_TARGET
from devtools import fixtures, generator, pgembed
from dify_maintenance.core.db import url_connector
from dify_maintenance.core.policy import resolve
from dify_maintenance.retention import batches, health
from dify_maintenance.retention import steps as retention

TOTALS: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0])


def _timed(fn, key):
    """Wrap ``fn`` so its time is added to TOTALS under ``key(*args, **kwargs)``."""

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            entry = TOTALS[key(*args, **kwargs)]
            entry[0] += time.perf_counter() - started
            entry[1] += 1

    return wrapper


def _statement_key(_conn, template, *_args, **ctx):
    return template, str(ctx.get("table") or ctx.get("cand") or "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30_000)
    parser.add_argument("--reuse", action="store_true", help="reuse dm_bench_profile if it exists")
    args = parser.parse_args()
    admin, _ = pgembed.admin_url("DIFY_MAINT_TEST_PG_URL")
    anchor = datetime.utcnow().replace(microsecond=0)  # noqa: DTZ003 - Dify stores naive UTC
    tpl = "dm_bench_profile"
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [tpl]).fetchone() is not None
    if not args.reuse or not exists:
        url = fixtures.recreate_database(admin, tpl)
        fixtures.load_sql(url, fixtures.fixture_schema("1.14"))
        generator.generate(url_connector(url), anchor=anchor, scale=generator.Scale(runs=args.runs))
    url = fixtures.copy_database(admin, tpl, f"{tpl}_run")
    for name in ("fetch_one", "fetch_all", "execute"):
        if hasattr(batches, name):  # an older engine (--baseline runs) may not use all three
            setattr(batches, name, _timed(getattr(batches, name), _statement_key))
    batches._run_step = _timed(batches._run_step, _statement_key)
    health.Gate.wait_until_healthy = _timed(health.Gate.wait_until_healthy, lambda *_a: ("health gate", ""))
    days = {"workflow_logs_days": 30, "messages_days": 30, "end_users_days": 30}
    pol = resolve(None, {**days, "archive": False, "build_missing_indexes": True, "batch_target_seconds": BATCH_TARGET})
    connector = url_connector(url)
    ctx = retention.preflight(connector, pol, dag_id="bench", run_id="profile", logical_date=anchor)
    started = time.perf_counter()
    rows = 0
    for fam in ctx["families"]:
        result = retention.run_purge(connector, ctx, fam, pol, None)
        rows += sum(c["deleted"] for c in result["tables"].values())
        print(f"{fam}: {result['batches']} batches, {result['wall_seconds']:.1f}s")
    total = time.perf_counter() - started
    retention.drop_built_indexes(connector, pol)
    fixtures.drop_database(admin, f"{tpl}_run")
    print(f"\n{rows:,} rows in {total:.1f}s = {rows / total:,.0f} rows/s\n")
    print(f"{'statement':34} {'table':38} {'calls':>6} {'seconds':>8} {'share':>6}")
    for (template, table), (seconds, calls) in sorted(TOTALS.items(), key=lambda kv: -kv[1][0])[:40]:
        print(f"{template:34} {table:38} {calls:>6} {seconds:8.2f} {seconds / total:6.1%}")


if __name__ == "__main__":
    main()
