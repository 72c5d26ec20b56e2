"""Workflow-log migration throughput: our streams against a single-threaded ``_bulk`` loop.

Usage: PYTHONPATH=plugins:. .venv/bin/python bench/logs.py [--runs 60000] [--concurrency 4] [--batch-mb 8]

Generates a Dify 1.14 database (about 17 node executions per workflow run, so the default makes
about a million), stores the offloaded payloads in a local folder, builds the (created_at, id)
index the form's create_index builds, and starts osmem-server on 127.0.0.1. Then, each in a fresh
interpreter (so its peak memory is its own) and into an empty clone of the cluster:
- baseline: the same bulk bodies (same reader, same bytes), sent one after another;
- ours: ``migrate_partition`` per month, as the DAG's mapped tasks run them (one after another
  here), with ``--concurrency`` requests in flight and a watermark after each;
- ours on half the window: memory must not grow with the number of rows.
Prints documents/s, MB/s, peak memory and seconds per million rows, with the ratios. The target:
ours at least 3x the baseline, memory flat.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _request(args, cluster, anchor: datetime, end_date: str | None):
    from dify_maintenance.logstore import migrate

    form = {"dry_run": False, "data_types": ["node_executions"], "batch_mb": args.batch_mb, "concurrency": args.concurrency}
    if end_date:
        form["end_date"] = end_date
    return migrate.request_from(form, cluster, anchor)


def worker(args) -> dict:
    from dify_maintenance.core.db import url_connector
    from dify_maintenance.logstore import migrate
    from dify_maintenance.logstore.cluster import ClusterConfig
    from dify_maintenance.logstore.reader import Window, chunks, offloads_of
    from dify_maintenance.storage.stores import StoreConfig

    url = os.environ["DIFY_MAINT_BENCH_DB_URL"]
    cluster = ClusterConfig(hosts=(args.cluster,))
    client = cluster.client()
    anchor = datetime.fromisoformat(args.anchor)
    req = _request(args, cluster, anchor, args.end_date)
    op = StoreConfig("fs", {"root": args.storage}).operator()

    def read(key: str) -> bytes:
        return bytes(op.read(key))

    connector = url_connector(url)
    parts = migrate.plan(connector, req, client, cluster)["partitions"]
    docs = sent_bytes = stored = 0
    seconds = 0.0
    node_executions = migrate.DATA_TYPES["node_executions"]
    with connector() as conn:
        offloads = offloads_of(conn, node_executions)
    for part in parts:
        started = time.monotonic()
        if args.worker == "baseline":
            window = Window(datetime.fromisoformat(part["lo"]), datetime.fromisoformat(part["hi"]))
            with connector() as conn:
                for chunk in chunks(
                    conn,
                    node_executions,
                    window,
                    None,
                    prefix=req.prefix,
                    layout=req.layout,
                    batch_bytes=req.batch_bytes,
                    read=read,
                    offloads=offloads,
                ):
                    client.bulk(body=chunk.body())
                    docs += chunk.docs
                    sent_bytes += chunk.size
        else:
            result = migrate.migrate_partition(connector, client, cluster, req, part, read)
            docs += result["created"] + result["updated"]
            sent_bytes += result["bytes"]
        seconds += time.monotonic() - started
        # the in-memory server cannot hold a million large documents (it was OOM-killed at 23 GB):
        # count a month, then drop it, outside the timed part, the same for both methods
        client.indices.refresh(index="dify-*")
        stored += client.count(index="dify-*")["count"]
        client.indices.delete(index="dify-*")
    return {"docs": docs, "stored": stored, "bytes": sent_bytes, "seconds": seconds, "rss_mb": rss_mb()}


def measure(args, kind: str, cluster_url: str, url: str, end_date: str | None = None) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        cmd = [sys.executable, __file__, "--worker", kind, "--cluster", cluster_url, "--anchor", args.anchor]
        cmd += [
            "--storage",
            args.storage,
            "--out",
            out.name,
            "--concurrency",
            str(args.concurrency),
            "--batch-mb",
            str(args.batch_mb),
        ]
        if end_date:
            cmd += ["--end-date", end_date]
        env = {**os.environ, "DIFY_MAINT_BENCH_DB_URL": url}
        if args.arenas:
            # glibc gives each new thread its own malloc arena and keeps freed 8 MB bodies there;
            # every stream starts new sender threads, so the peak would grow with the number of
            # months (up to 8 arenas per core), not with rows: measure with the arenas capped
            env["MALLOC_ARENA_MAX"] = str(args.arenas)
        subprocess.run(cmd, check=True, env=env)
        return json.loads(Path(out.name).read_text())


def line(name: str, r: dict) -> str:
    rate = r["docs"] / r["seconds"]
    return (
        f"{name:<22} {r['docs']:>10,} docs in {r['seconds']:7.1f} s = {rate:>9,.0f} docs/s, "
        f"{r['bytes'] / 1e6 / r['seconds']:6.1f} MB/s, "
        f"{1e6 * r['seconds'] / max(r['docs'], 1):6.1f} s per million, peak {r['rss_mb']:6.0f} MB, in the cluster {r['stored']:,}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=60_000)
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batch-mb", type=int, default=8)
    parser.add_argument("--arenas", type=int, default=2, help="MALLOC_ARENA_MAX for the measured processes (0: glibc's default)")
    parser.add_argument("--worker")
    parser.add_argument("--cluster")
    parser.add_argument("--anchor")
    parser.add_argument("--storage")
    parser.add_argument("--end-date")
    parser.add_argument("--out")
    args = parser.parse_args()
    sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]
    if args.worker:
        Path(args.out).write_text(json.dumps(worker(args)))
        return

    import psycopg
    from osmem_server import OsmemServer

    from devtools import fixtures, generator, pgembed
    from dify_maintenance.core.db import url_connector
    from dify_maintenance.storage.stores import StoreConfig

    admin, where = pgembed.admin_url("DIFY_MAINT_TEST_PG_URL")
    anchor = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    args.anchor = anchor.isoformat()
    url = fixtures.recreate_database(admin, "dm_bench_logs")
    with tempfile.TemporaryDirectory() as tmp:
        args.storage = tmp
        try:
            fixtures.load_sql(url, fixtures.fixture_schema("1.14"))
            started = time.monotonic()
            generator.generate(url_connector(url), anchor=anchor, scale=generator.Scale(runs=args.runs, tenants=args.tenants))
            offloaded = generator.write_offload_payloads(url_connector(url), StoreConfig("fs", {"root": tmp}))
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE INDEX ON workflow_node_executions (created_at, id)")
                conn.execute("ANALYZE workflow_node_executions")
                nodes = conn.execute("select count(*) from workflow_node_executions").fetchone()[0]
                middle = conn.execute(
                    "select (min(created_at) + (max(created_at) - min(created_at)) / 2)::date from workflow_node_executions"
                ).fetchone()[0]
            took = time.monotonic() - started
            print(f"server: {where}; {nodes:,} node executions ({offloaded:,} offloaded payloads), generated in {took:.0f} s")
            print(f"bulk requests of {args.batch_mb} MB; ours with {args.concurrency} in flight")
            with OsmemServer.start(japanese=False) as server:
                with server.clone() as clone:
                    base = measure(args, "baseline", clone.url, url)
                with server.clone() as clone:
                    ours = measure(args, "ours", clone.url, url)
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("DROP TABLE dify_maintenance.log_migration, dify_maintenance.log_migration_rejects")
                with server.clone() as clone:
                    half = measure(args, "ours", clone.url, url, end_date=middle.isoformat())
            print(line("single-threaded _bulk", base))
            print(line("ours", ours))
            print(line("ours, half the rows", half))
            speed = (ours["docs"] / ours["seconds"]) / (base["docs"] / base["seconds"])
            print(f"ratio ours / single-threaded loop: {speed:.2f} (target >= 3)")
            print(f"peak memory, all rows / half the rows: {ours['rss_mb'] / half['rss_mb']:.2f} (flat: about 1)")
        finally:
            fixtures.drop_database(admin, "dm_bench_logs")


if __name__ == "__main__":
    main()
