"""Orphan-detection benchmark: our streaming, set-based detection against Dify's own in-memory
commands, at a million stored keys, time and peak memory.

Usage: PYTHONPATH=plugins:. .venv/bin/python bench/orphans.py [--keys 1000000] [--small 250000]

For each size the script builds one Dify 1.14 database (the project's generator for a realistic
mix, then uploads cloned in bulk) and a local-disk storage (OpenDAL ``fs``) holding an empty
object for every upload plus 2 % stray objects no row names. Of the cloned uploads, 7 in 10 are
referenced by ``message_files``, 2 in 10 are mentioned inside node-execution outputs, 1 in 10 by
nothing (the planted orphans); everything is 60 days old. Each method then runs in a fresh
Python process, so its peak resident memory (``ru_maxrss``) is its own:

* **ours**: ``orphans.run_all`` as a dry run (listing streamed into a temporary table, every
  reference source scanned in page slices, the candidate CSV written to a local archive);
* **dify**: ``clear-orphaned-file-records`` (every file id and every referenced id fetched into
  Python, set difference) and ``remove-orphaned-files-on-storage`` (every key of the database and
  of a recursive listing in memory, set difference), read-only, with plain psycopg and OpenDAL
  instead of SQLAlchemy and Dify's storage layer (which only makes it lighter).

Printed: seconds, keys per second, peak memory and memory above the interpreter's baseline, the
planted orphans found, referenced files wrongly flagged, and the ratios. Nothing asserts timings.
Peak memory is the worker's ``VmHWM`` (Linux).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

AGE_DAYS = 60
STRAY_SHARE = 50  # one stray object per 50 keys
DIRECTORIES = 100
# Bulk rows: the first generated row of a table, cloned once per g with these columns replaced.
CLONE = """
INSERT INTO {table}
SELECT r.*
FROM (SELECT * FROM {table} LIMIT 1) AS t
CROSS JOIN generate_series(1, %(n)s) AS g
CROSS JOIN LATERAL jsonb_populate_record(NULL::{table}, to_jsonb(t) || jsonb_build_object({overrides})) AS r
WHERE {planted}
"""
CLONES = (  # (table, replaced columns, which g): uploads; 7 in 10 attached to messages; 2 in 10 in node outputs
    (
        "upload_files",
        "'id', md5('bench:' || g)::uuid, 'size', 0, 'created_at', %(old)s::text,"
        " 'key', 'upload_files/' || g %% %(dirs)s || '/' || md5('bench:' || g)::uuid || '.bin'",
        "true",
    ),
    ("message_files", "'id', md5('bench-mf:' || g)::uuid, 'upload_file_id', md5('bench:' || g)::uuid", "g %% 10 BETWEEN 1 AND 7"),
    (
        "workflow_node_executions",
        "'id', md5('bench-ne:' || g)::uuid, 'outputs', json_build_object('files', json_build_array(json_build_object("
        "'dify_model_identity', '__dify__file__', 'related_id', md5('bench:' || g)::uuid)))::text",
        "g %% 10 IN (8, 9)",
    ),
)
# The references Dify's own `flask clear-orphaned-file-records` command checks: (table, column, uuid column?)
DIFY_REFERENCES = [
    ("message_files", "upload_file_id", True),
    ("documents", "data_source_info", False),
    ("document_segments", "content", False),
    ("messages", "answer", False),
    ("workflow_node_executions", "inputs", False),
    ("workflow_node_executions", "process_data", False),
    ("workflow_node_executions", "outputs", False),
    ("conversations", "introduction", False),
    ("conversations", "system_instruction", False),
    ("accounts", "avatar", False),
    ("apps", "icon", False),
    ("sites", "icon", False),
    ("messages", "inputs", False),
    ("messages", "message", False),
]
GUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def planted_id(g: int) -> uuid.UUID:
    return uuid.UUID(hashlib.md5(f"bench:{g}".encode(), usedforsecurity=False).hexdigest())


def sizes(keys: int) -> tuple[int, int]:
    """(cloned uploads, stray objects) adding up to ``keys`` stored objects."""
    stray = keys // STRAY_SHARE
    return keys - stray, stray


def build(admin: str, name: str, keys: int, root: Path) -> str:
    import psycopg
    from psycopg import sql

    from devtools import fixtures, generator
    from dify_maintenance.core.db import url_connector

    started = time.monotonic()
    url = fixtures.recreate_database(admin, name)
    fixtures.load_sql(url, fixtures.fixture_schema("1.14"))
    anchor = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    generator.generate(url_connector(url), anchor=anchor, scale=generator.Scale(runs=2000, tenants=4))
    uploads, stray = sizes(keys)
    old = anchor - timedelta(days=AGE_DAYS)
    with psycopg.connect(url, autocommit=True) as conn:
        for table, overrides, planted in CLONES:
            query = sql.SQL(CLONE).format(table=sql.Identifier(table), overrides=sql.SQL(overrides), planted=sql.SQL(planted))
            conn.execute(query, {"n": uploads, "dirs": DIRECTORIES, "old": old.isoformat()})
        conn.execute("ANALYZE")
    stamp = old.replace(tzinfo=UTC).timestamp()
    for g in range(1, uploads + stray + 1):
        name_part = planted_id(g) if g <= uploads else f"stray-{g}"
        path = root / "upload_files" / str(g % DIRECTORIES) / f"{name_part}.bin"
        if g <= DIRECTORIES:
            path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        os.utime(path, (stamp, stamp))
    print(f"  built {keys:,} keys ({uploads:,} uploads, {stray:,} stray) in {time.monotonic() - started:.0f} s", flush=True)
    return url


def rss_mb() -> float:
    """This process's peak resident memory. ``VmHWM`` belongs to the address space exec created;
    ``ru_maxrss`` would carry the parent's peak over a fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ours(url: str, root: Path, archive: Path) -> dict:
    from dify_maintenance.core.db import url_connector
    from dify_maintenance.files import orphans
    from dify_maintenance.storage.stores import StoreConfig

    store, report_store = StoreConfig("fs", {"root": str(root)}), StoreConfig("fs", {"root": str(archive)})
    connector, req = url_connector(url), orphans.request_from({"prefixes": ["upload_files/"]})
    baseline = rss_mb()
    started = time.monotonic()
    # orphans.run_all's dry run, step by step for the time of each
    ctx = orphans.preflight(connector, store, req, dag_id="bench", run_id="bench", archive_store=report_store)
    listed = orphans.inventory(connector, store, ctx)
    phases = {"inventory": time.monotonic() - started}
    scans = [orphans.scan(connector, ctx, table) for table in orphans.source_tables(ctx)]
    orphans.scan_payloads(connector, store, ctx)
    phases["scans"] = time.monotonic() - started - phases["inventory"]
    orphans.write_csv(connector, report_store, ctx)
    orphans.summary(connector, ctx)
    seconds, peak = time.monotonic() - started, rss_mb()
    phases["csv and summary"] = seconds - phases["inventory"] - phases["scans"]
    slowest = sorted(scans, key=lambda r: -r["seconds"])[:3]
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT kind, coalesce(file_id::text, key) FROM dify_maintenance.file_candidates WHERE referenced_by IS NULL"
        ).fetchall()
    return {
        "seconds": seconds,
        "baseline_mb": baseline,
        "peak_mb": peak,
        "listed": listed["listed_objects"],
        "phases": {**phases, **{f"scan {r['table']}": r["seconds"] for r in slowest}},
        "file_ids": [v for k, v in rows if k != "object"],
        "keys": [v for k, v in rows if k == "object"],
    }


def run_dify(url: str, root: Path) -> dict:
    import opendal
    import psycopg

    baseline = rss_mb()
    started = time.monotonic()
    with psycopg.connect(url) as conn:
        files = conn.execute("SELECT id::text, key FROM upload_files").fetchall()
        files += conn.execute("SELECT id::text, file_key FROM tool_files").fetchall()
        referenced: list[str] = []
        present = set(
            conn.execute("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'")
        )
        for table, column, is_uuid in DIFY_REFERENCES:
            if (table, column) not in present:  # our fixture schema has no knowledge-base tables
                continue
            if is_uuid:
                referenced += [r[0] for r in conn.execute(f"SELECT {column}::text FROM {table}")]  # noqa: S608 - fixed list
            else:
                for (matches,) in conn.execute(f"SELECT regexp_matches({column}::text, %s, 'g') FROM {table}", [GUID]):  # noqa: S608
                    referenced += matches
        orphan_ids = {i for i, _ in files} - set(referenced)
        db_keys = {k for _, k in files}
    op = opendal.Operator("fs", root=str(root))
    storage_keys = []
    for prefix in ("image_files/", "tools/", "upload_files/"):
        try:
            storage_keys += [e.path for e in op.list(prefix, recursive=True) if not e.path.endswith("/")]
        except Exception as exc:  # a prefix that does not exist
            if "NotFound" not in type(exc).__name__:
                raise
    orphan_keys = set(storage_keys) - db_keys
    seconds, peak = time.monotonic() - started, rss_mb()
    return {
        "seconds": seconds,
        "baseline_mb": baseline,
        "peak_mb": peak,
        "listed": len(storage_keys),
        "file_ids": sorted(orphan_ids),
        "keys": sorted(orphan_keys),
    }


def measure(method: str, url: str, root: Path, archive: Path) -> dict:
    """One method in a fresh interpreter, so the peak memory is that method's alone."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run(
            [sys.executable, __file__, "--worker", method, "--url", url, "--root", str(root)]
            + ["--archive", str(archive), "--out", out.name],
            check=True,
        )
        return json.loads(Path(out.name).read_text())


def judge(result: dict, keys: int, url: str) -> tuple[int, int, int]:
    """(planted orphans found, stray objects found, referenced files wrongly flagged)."""
    import psycopg

    uploads, _ = sizes(keys)
    planted = {str(planted_id(g)) for g in range(10, uploads + 1, 10)}
    flagged = set(result["file_ids"])
    with psycopg.connect(url) as conn:
        referenced_elsewhere = {
            r[0]
            for r in conn.execute(
                "SELECT file_id::text FROM workflow_node_execution_offload UNION SELECT upload_file_id::text FROM message_files"
            )
        }
    stray = sum(1 for k in result["keys"] if "/stray-" in k)
    return len(planted & flagged), stray, len((flagged - planted) & referenced_elsewhere)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=250_000, help="a second, smaller size for how memory grows (0: none)")
    parser.add_argument("--worker", choices=["ours", "dify"])
    parser.add_argument("--url")
    parser.add_argument("--root")
    parser.add_argument("--archive")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.worker:
        root = Path(args.root)
        run = run_ours(args.url, root, Path(args.archive)) if args.worker == "ours" else run_dify(args.url, root)
        Path(args.out).write_text(json.dumps(run))
        return

    from devtools import fixtures, pgembed

    admin, where = pgembed.admin_url("DIFY_MAINT_TEST_PG_URL")
    print(f"PostgreSQL: {where}")
    rows = {}
    for keys in [k for k in (args.small, args.keys) if k]:
        with tempfile.TemporaryDirectory(prefix="dm-bench-orphans-") as tmp:
            name = f"dm_bench_orphans_{keys}"
            try:
                url = build(admin, name, keys, Path(tmp) / "storage")
                for method in ("ours", "dify"):
                    result = measure(method, url, Path(tmp) / "storage", Path(tmp) / f"archive-{method}")
                    found, stray, wrong = judge(result, keys, url)
                    rows[(keys, method)] = result
                    rate = result["listed"] / result["seconds"]
                    print(
                        f"{keys:>9,} keys  {method:4}  {result['seconds']:7.1f} s  {rate:9,.0f} keys/s  "
                        f"peak {result['peak_mb']:7.1f} MB (+{result['peak_mb'] - result['baseline_mb']:6.1f} over start)  "
                        f"planted orphans found {found:,}/{sizes(keys)[0] // 10:,}  stray {stray:,}/{sizes(keys)[1]:,}  "
                        f"referenced files flagged {wrong:,}",
                        flush=True,
                    )
                    if result.get("phases"):
                        print("      " + ", ".join(f"{k} {v:.1f} s" for k, v in result["phases"].items()), flush=True)
            finally:
                fixtures.drop_database(admin, name)
    big_ours, big_dify = rows[(args.keys, "ours")], rows[(args.keys, "dify")]
    print(f"ratio time ours / dify at {args.keys:,} keys: {big_ours['seconds'] / big_dify['seconds']:.2f}")
    print(f"ratio peak memory ours / dify at {args.keys:,} keys: {big_ours['peak_mb'] / big_dify['peak_mb']:.2f}")
    if args.small:
        for method in ("ours", "dify"):
            small, big = rows[(args.small, method)], rows[(args.keys, method)]
            growth = (big["peak_mb"] - big["baseline_mb"]) - (small["peak_mb"] - small["baseline_mb"])
            print(f"{method}: memory above start grows by {growth:.1f} MB from {args.small:,} to {args.keys:,} keys")


if __name__ == "__main__":
    main()
