"""Peak memory of a workflow-log migration whose rows include a few huge ones: the reader fetches
by bytes (one row, then as many as the last ones' size leaves room for) and the sender holds at
most ``concurrency + 1`` requests' worth of bytes, so a worker holds a few big documents at a
time, not a page of them.

Usage: PYTHONPATH=plugins:. .venv/bin/python bench/log_memory.py [--rows 8] [--mb 25] [--runs 200]

Two copies of one Dify 1.14 database from the generator: in one, ``--rows`` old node executions
get ``outputs`` of ``--mb`` MB each (a JSON object holding random hex). Each migration (node
executions, the form's defaults: 8 MB requests, 4 in flight) runs in a fresh interpreter into
its own empty osmem-server clone, then validates; printed: each one's peak resident memory
(``VmHWM``) and the difference. Nothing asserts.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import timedelta

from bench.memory import generated_database, peak_mb


def worker(url: str, cluster_url: str) -> None:
    from dify_maintenance.core.db import url_connector
    from dify_maintenance.logstore import migrate, validate
    from dify_maintenance.logstore.cluster import ClusterConfig, identify

    connector = url_connector(url)
    config = ClusterConfig(hosts=(cluster_url,), timeout=300)
    client = config.client()
    info = identify(client, config)
    req = migrate.request_from({"dry_run": False, "data_types": ["node_executions"]}, config, migrate.database_now(connector))
    planned = migrate.plan(connector, req, client, config, info)
    written = rejected = 0
    for part in planned["partitions"]:
        result = migrate.migrate_partition(connector, client, config, req, part, lambda key: b"{}", info=info)
        written += result["created"] + result["updated"]
        rejected += result["rejected_total"]
    checked = validate.validate(connector, client, config, req, lambda key: b"{}", run_key="bench/memory", info=info)
    print(f"{peak_mb():.1f} {written} {rejected} {int(checked['passed'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--mb", type=int, default=25)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the two databases (dm_bench_logmem_*) afterwards")
    parser.add_argument("--worker", nargs=2, metavar=("URL", "CLUSTER_URL"))
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return

    import psycopg
    from osmem_server import OsmemServer

    from devtools import fixtures

    admin, anchor, plain = generated_database("dm_bench_logmem_plain", args.runs)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("DELETE FROM workflow_node_execution_offload")  # payloads in the rows only: no storage needed
    big = fixtures.copy_database(admin, "dm_bench_logmem_plain", "dm_bench_logmem_big")
    with psycopg.connect(big, autocommit=True) as conn:
        conn.execute(
            """
            UPDATE workflow_node_executions SET outputs = (
                SELECT '{"text": "' || string_agg(md5(random()::text || g), '') || '"}' FROM generate_series(1, %(pieces)s) AS g)
            WHERE id IN (SELECT id FROM workflow_node_executions WHERE created_at < %(before)s ORDER BY created_at LIMIT %(rows)s)
            """,
            {"pieces": args.mb * 1024 * 1024 // 32, "rows": args.rows, "before": anchor - timedelta(days=35)},
        )
    results = {}
    server = OsmemServer.start(japanese=False)
    try:
        for name, url in (("without", plain), (f"{args.rows} rows of {args.mb} MB", big)):
            with server.clone() as clone:
                out = subprocess.run(  # noqa: S603 - our own script, argv only
                    [sys.executable, __file__, "--worker", url, clone.url], capture_output=True, text=True, check=True
                )
            peak, written, rejected, passed = out.stdout.split()[-4:]
            results[name] = float(peak)
            print(
                f"{name:>22}: peak {float(peak):7.1f} MB, {int(written):,} documents written, {rejected} rejected, "
                f"validation {'passed' if passed == '1' else 'FAILED'}"
            )
    finally:
        server.close()
    for name in () if args.keep else ("dm_bench_logmem_big", "dm_bench_logmem_plain"):
        fixtures.drop_database(admin, name)
    base, loaded = results["without"], results[f"{args.rows} rows of {args.mb} MB"]
    print(f"peak with the big rows: {loaded:.1f} MB ({loaded - base:+.1f} MB over the same migration without them)")


if __name__ == "__main__":
    main()
