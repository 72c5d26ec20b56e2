"""Purge benchmark: our engine against the naive recipe and Dify's own algorithms, same data.

Usage: PYTHONPATH=plugins:. .venv/bin/python bench/purge.py [--runs N] [--schemas 1.14,0.15]

For each schema generation it generates one template database with the project's generator
(default 120,000 workflow runs: about 2.1 million node executions and a million messages), records
what a correct purge must keep, then times every algorithm on a fresh copy of that template
(``CREATE DATABASE ... TEMPLATE``), each with a concurrent writer inserting runs and node
executions, a sampler of the algorithm's oldest open transaction, and the WAL it wrote. Ours also
runs on a half-size template, for how time grows with size. Results are printed as a table and
as ratios; nothing here asserts timings.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from psycopg.rows import dict_row

from bench import engine_run
from bench.engine_run import run_engine
from devtools import fixtures, generator, pgembed
from dify_maintenance.core import catalog
from dify_maintenance.core.db import url_connector
from dify_maintenance.core.schema import snapshot
from dify_maintenance.core.sqltemplates import register_templates, render

register_templates("bench", Path(__file__).resolve().parent / "sql")

CUTOFF_DAYS = 30
BASELINE_APP = "bench-baseline"
WRITER_APP = "bench-writer"
NAIVE_TABLES = ("workflow_node_executions", "workflow_app_logs", "workflow_runs", "messages", "conversations", "end_users")
# every table a family of ours deletes from, children before parents (for "naive, same tables")
ALL_PURGED_TABLES = tuple(dict.fromkeys(t for fam in catalog.FAMILIES for t in catalog.tables_of(fam, keep_curated=False)))
DIFY_RUN_CHILDREN = ("workflow_node_executions", "workflow_app_logs", "workflow_trigger_logs")
DIFY_MESSAGE_CHILDREN = (
    "message_feedbacks",
    "message_annotations",
    "message_chains",
    "message_agent_thoughts",
    "message_files",
    "saved_messages",
    "app_annotation_hit_histories",
    "dataset_retriever_resources",
)


def q(conn: psycopg.Connection, template: str, params: dict | None = None, **ctx: object) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(render(template, **ctx), params)
        return list(cur.fetchall()) if cur.description else [{"rowcount": cur.rowcount}]


# ---------------------------------------------------------------- what must survive


@dataclass(frozen=True)
class Link:
    """child.column names parent.key (optionally only when child.role_column = role_value)."""

    child: str
    column: str
    parent: str
    key: str = "id"
    role_column: str | None = None
    role_value: str | None = None
    owned: bool = True  # a descendant edge (the parent owns the child), not just a reference

    @property
    def name(self) -> str:
        return f"{self.child}.{self.column}->{self.parent}"


def links(conn: psycopg.Connection) -> list[Link]:
    """Every reference the catalog declares, reduced to tables and columns that exist."""
    snap = snapshot(conn)
    out: dict[str, Link] = {}
    for fam in catalog.FAMILIES:
        for root in fam.roots:
            for path in catalog.descendants(root, keep_curated=False):
                edge = path.edges[-1]
                out.setdefault(f"{edge.table}.{edge.parent_column}", Link(edge.table, edge.parent_column, path.parent_table))
            for ref in root.references:
                role = ref.role_column if ref.role_column and snap.has_column(ref.table, ref.role_column) else None
                link = Link(ref.table, ref.column, root.table, root.key, role, ref.role_value if role else None, owned=False)
                out.setdefault(f"{ref.table}.{ref.column}", link)
    # Rows are identified by a uuid primary key "id"; tables keyed otherwise (conversation
    # variables share ids across conversations) cannot be followed row by row and are left out.
    uuid_id = {t for t in snap.columns if snap.columns[t].get("id") == "uuid" and snap.primary_key(t) == ("id",)}
    return [
        lk
        for lk in out.values()
        if lk.child in uuid_id and lk.parent in uuid_id and snap.has_column(lk.child, lk.column) and lk.column != "id"
    ]


def record_truth(url: str, cutoff: datetime) -> None:
    """Rows a correct purge keeps: newer than the cutoff, in-flight runs, and, to a fixed point,
    what they name (parents, conversations, end users) and what kept parents own."""
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute(render("bench/truth_schema.sql"))
        snap = snapshot(conn)
        lks = links(conn)
        tables = {lk.child for lk in lks} | {lk.parent for lk in lks}
        for table in sorted(tables):
            recency = [c for c in ("created_at", "updated_at") if snap.has_column(table, c)]
            if recency:
                q(conn, "bench/truth_newer.sql", {"tbl": table, "cutoff": cutoff}, table=table, recency=recency)
        q(conn, "bench/truth_in_flight.sql", {"statuses": ["running", "paused"]})
        for _ in range(3):
            for lk in lks:
                tables_of_link = {"parent_tbl": lk.parent, "child_tbl": lk.child}
                q(conn, "bench/truth_up.sql", {**tables_of_link, "role_value": lk.role_value}, **_link_ctx(lk))
                if lk.owned:
                    q(conn, "bench/truth_down.sql", tables_of_link, **_link_ctx(lk))
        for lk in lks:
            q(conn, "bench/truth_dangling.sql", _link_params(lk), mode="record", **_link_ctx(lk))
        conn.execute("ANALYZE bench_truth.keep")
        conn.execute("ANALYZE bench_truth.dangling")


def _link_ctx(lk: Link) -> dict:
    return {"child": lk.child, "column": lk.column, "parent": lk.parent, "key": lk.key, "role_column": lk.role_column}


def _link_params(lk: Link) -> dict:
    return {"edge": lk.name, "role_value": lk.role_value}


def damage(url: str, writer_ids: list[uuid.UUID], old_parent_children: list[uuid.UUID] = ()) -> tuple[int, int, dict]:
    """(rows wrongly deleted, rows newly left dangling, details) after an algorithm ran."""
    details: dict[str, int] = {}
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        tables = [r["tbl"] for r in conn.execute("SELECT DISTINCT tbl FROM bench_truth.keep")]
        wrong = 0
        for table in tables:
            n = q(conn, "bench/truth_missing.sql", {"tbl": table}, table=table)[0]["n"]
            if n:
                details[f"wrongly deleted {table}"] = n
            wrong += n
        if writer_ids:
            alive = conn.execute("SELECT count(*) AS n FROM workflow_runs WHERE id = ANY(%s)", [writer_ids]).fetchone()["n"]
            if alive != len(writer_ids):
                details["writer runs deleted"] = len(writer_ids) - alive
                wrong += len(writer_ids) - alive
        dangling = 0
        if old_parent_children:
            state = q(conn, "bench/writer_child_state.sql", {"ids": list(old_parent_children)})[0]
            details["writer rows under old runs"] = len(old_parent_children)
            if state["gone"]:
                details["writer rows under old runs deleted"] = state["gone"]
                wrong += state["gone"]
            if state["dangling"]:
                details["writer rows under old runs left dangling"] = state["dangling"]
                dangling += state["dangling"]
        for lk in links(conn):
            n = q(conn, "bench/truth_dangling.sql", _link_params(lk), mode="count_new", **_link_ctx(lk))[0]["n"]
            if n:
                details[f"dangling {lk.name}"] = n
            dangling += n
    return wrong, dangling, details


def total_rows(url: str) -> int:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        present = set(snapshot(conn).columns)
        return sum(q(conn, "bench/row_count.sql", table=t)[0]["n"] for t in sorted(catalog.all_tables() & present))


# ---------------------------------------------------------------- monitors


class Sampler(threading.Thread):
    """Polls the age of the algorithm's oldest open transaction every 20 ms."""

    def __init__(self, url: str, db: str) -> None:
        super().__init__(daemon=True)
        self.url, self.db = url, db
        self.longest = 0.0
        self.stop = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True, application_name=WRITER_APP, row_factory=dict_row) as conn:
            while not self.stop.is_set():
                row = q(conn, "bench/longest_transaction.sql", {"db": self.db, "ignore": [WRITER_APP]})[0]
                self.longest = max(self.longest, float(row["seconds"]))
                time.sleep(0.02)


class Writer(threading.Thread):
    """What a live Dify does meanwhile: a workflow run with five node executions every 50 ms, and
    after each, a node execution dated now under an old ended run that still exists (read, then
    written, as Dify does): half the time a random one, half the time the oldest one left, which
    is the purge's next batch. A correct purge deletes none of those and leaves none dangling."""

    def __init__(self, url: str, cutoff: datetime | None = None) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.cutoff = cutoff
        self.latencies: list[float] = []
        self.ids: list[uuid.UUID] = []
        self.old_parent_children: list[uuid.UUID] = []
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        rng = random.Random(7)
        with psycopg.connect(self.url, autocommit=True, application_name=WRITER_APP, row_factory=dict_row) as conn:
            template = q(conn, "bench/writer_template.sql")[0]["id"]
            old = []
            if self.cutoff:
                old = [r["id"] for r in q(conn, "bench/writer_old_runs.sql", {"cutoff": self.cutoff, "limit": 5000})]
            while not self.stop.is_set():
                run_id = uuid.uuid4()
                now = datetime.utcnow().isoformat()  # noqa: DTZ003 - Dify stores naive UTC
                params = {"id": run_id, "template": template, "now": now, "nodes": 5}
                started = time.monotonic()
                try:
                    with conn.transaction():
                        q(conn, "bench/writer_run.sql", params)
                        q(conn, "bench/writer_nodes.sql", params)
                    self.latencies.append(time.monotonic() - started)
                    self.ids.append(run_id)
                    if old:
                        self._write_under_old_run(conn, rng, old, template, now)
                except psycopg.Error:
                    self.errors += 1
                time.sleep(0.05)

    def _write_under_old_run(self, conn: psycopg.Connection, rng: random.Random, old: list, template, now: str) -> None:
        nxt = q(conn, "bench/writer_next_run.sql", {"cutoff": self.cutoff}) if rng.random() < 0.5 else []
        target = nxt[0]["id"] if nxt else rng.choice(old)
        with conn.transaction():
            if conn.execute("SELECT 1 FROM workflow_runs WHERE id = %s", [target]).fetchone():
                rows = q(conn, "bench/writer_old_nodes.sql", {"id": target, "template": template, "now": now})
                self.old_parent_children += [r["id"] for r in rows]

    def p99_ms(self) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100)[98] * 1000


# ---------------------------------------------------------------- algorithms


@dataclass
class Outcome:
    name: str
    schema: str
    seconds: float = 0.0
    rows: int = 0
    longest_txn: float = 0.0
    wal_bytes: int = 0
    wrong: int = 0
    dangling: int = 0
    writer_p99_ms: float = 0.0
    writer_errors: int = 0
    complete: bool = True
    details: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def naive(url: str, cutoff: datetime, _limit: float) -> bool:
    with psycopg.connect(url, autocommit=True, application_name=BASELINE_APP, row_factory=dict_row) as conn:
        present = set(snapshot(conn).columns)
        for table in NAIVE_TABLES:
            if table in present:
                q(conn, "bench/naive_delete.sql", {"cutoff": cutoff}, table=table)
    return True


def _keyset(conn, table: str, cutoff: datetime, limit: int, ended_only: bool, extra: tuple[str, ...] = ()):
    cursor = None
    while True:
        params = {"cutoff": cutoff, "limit": limit, "statuses": list(catalog.ENDED_RUN_STATUSES)}
        if cursor:
            params["after_ts"], params["after_id"] = cursor
        rows = q(conn, "bench/keyset_batch.sql", params, table=table, ended_only=ended_only, has_cursor=bool(cursor), extra=extra)
        if not rows:
            return
        cursor = (rows[-1]["created_at"], rows[-1]["id"])
        yield rows


def dify_114(url: str, cutoff: datetime, limit_seconds: float) -> bool:
    """clean-workflow-runs (batch 200) then clean-expired-messages (batch 1000), one transaction
    per batch, IN-list deletes; the random 0-200 ms sleep between batches is left out."""
    deadline = time.monotonic() + limit_seconds
    with psycopg.connect(url, autocommit=True, application_name=BASELINE_APP, row_factory=dict_row) as conn:
        present = set(snapshot(conn).columns)
        for batch in _keyset(conn, "workflow_runs", cutoff, 200, ended_only=True):
            ids = [r["id"] for r in batch]
            with conn.transaction():
                if "workflow_node_execution_offload" in present:
                    q(
                        conn,
                        "bench/delete_in_subquery.sql",
                        {"ids": ids},
                        table="workflow_node_execution_offload",
                        column="node_execution_id",
                        sub_table="workflow_node_executions",
                        sub_column="workflow_run_id",
                    )
                for table in ("workflow_node_executions", "workflow_app_logs"):
                    q(conn, "bench/delete_in.sql", {"ids": ids}, table=table, column="workflow_run_id")
                if "workflow_pauses" in present:
                    q(
                        conn,
                        "bench/delete_in_subquery.sql",
                        {"ids": ids},
                        table="workflow_pause_reasons",
                        column="pause_id",
                        sub_table="workflow_pauses",
                        sub_column="workflow_run_id",
                    )
                    q(conn, "bench/delete_in.sql", {"ids": ids}, table="workflow_pauses", column="workflow_run_id")
                if "workflow_trigger_logs" in present:
                    q(conn, "bench/delete_in.sql", {"ids": ids}, table="workflow_trigger_logs", column="workflow_run_id")
                q(conn, "bench/delete_in.sql", {"ids": ids}, table="workflow_runs", column="id")
            if time.monotonic() > deadline:
                return False
        for batch in _keyset(conn, "messages", cutoff, 1000, ended_only=False, extra=("app_id",)):
            apps = {r["id"] for r in q(conn, "bench/apps_of.sql", {"ids": list({r["app_id"] for r in batch})})}
            ids = [r["id"] for r in batch if r["app_id"] in apps]
            with conn.transaction():
                for table in DIFY_MESSAGE_CHILDREN:
                    if table in present:
                        q(conn, "bench/delete_in.sql", {"ids": ids}, table=table, column="message_id")
                q(conn, "bench/delete_in.sql", {"ids": ids}, table="messages", column="id")
            if time.monotonic() > deadline:
                return False
    return True


def dify_18(url: str, cutoff: datetime, limit_seconds: float) -> bool:
    """clean_workflow_runlogs_precise as of 1.8.0: count, then LIMIT 100 batches deleting app logs,
    node executions and runs by IN-list, one transaction per batch."""
    deadline = time.monotonic() + limit_seconds
    with psycopg.connect(url, autocommit=True, application_name=BASELINE_APP, row_factory=dict_row) as conn:
        q(conn, "bench/dify18_count.sql", {"cutoff": cutoff})
        while True:
            ids = [r["id"] for r in q(conn, "bench/dify18_batch.sql", {"cutoff": cutoff, "limit": 100})]
            if not ids:
                return True
            with conn.transaction():
                for table in ("workflow_app_logs", "workflow_node_executions"):
                    q(conn, "bench/delete_in.sql", {"ids": ids}, table=table, column="workflow_run_id")
                q(conn, "bench/delete_in.sql", {"ids": ids}, table="workflow_runs", column="id")
            if time.monotonic() > deadline:
                return False


def ours(archive: bool, one_shot: bool = False) -> Callable[[str, datetime, float], bool]:
    def run(url: str, cutoff: datetime, _limit: float) -> bool:
        done = run_engine(url, cutoff, CUTOFF_DAYS, archive, one_shot)
        per_batch = {r["family"]: r.get("statements_per_batch", 0) for r in engine_run.LAST_RESULTS}
        print(f"        statements per batch (at most): {per_batch}", flush=True)
        return done

    return run


def engine_of(tree: Path, archive: bool) -> Callable[[str, datetime, float], bool]:
    """The engine of another checkout (``--baseline-tree``), run in its own interpreter."""

    def run(url: str, cutoff: datetime, _limit: float) -> bool:
        env = {**os.environ, "PYTHONPATH": f"{tree / 'plugins'}:{tree}"}
        argv = [sys.executable, str(Path(__file__).with_name("engine_run.py")), url, cutoff.isoformat(), str(CUTOFF_DAYS)]
        return subprocess.run([*argv, *(["--archive"] if archive else [])], env=env, check=False).returncode == 0

    return run


def naive_same_tables(url: str, cutoff: datetime, _limit: float) -> bool:
    """The naive recipe extended to every table our purge deletes from, children first."""
    with psycopg.connect(url, autocommit=True, application_name=BASELINE_APP, row_factory=dict_row) as conn:
        snap = snapshot(conn)
        for table in ALL_PURGED_TABLES:
            if snap.has_column(table, "created_at"):
                q(conn, "bench/naive_delete.sql", {"cutoff": cutoff}, table=table)
    return True


# ---------------------------------------------------------------- harness


def build_template(admin: str, name: str, generation: str, scale: generator.Scale, anchor: datetime) -> str:
    url = fixtures.recreate_database(admin, name)
    fixtures.load_sql(url, fixtures.fixture_schema(generation))
    started = time.monotonic()
    generator.generate(url_connector(url), anchor=anchor, scale=scale)
    record_truth(url, anchor - timedelta(days=CUTOFF_DAYS))
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute("VACUUM ANALYZE")
        nodes = q(conn, "bench/row_count.sql", table="workflow_node_executions")[0]["n"]
        messages = q(conn, "bench/row_count.sql", table="messages")[0]["n"]
        size = conn.execute("SELECT pg_database_size(current_database()) AS bytes").fetchone()["bytes"]
    print(
        f"  template {name}: {nodes:,} node executions, {messages:,} messages, {size / 1e9:.1f} GB "
        f"in {time.monotonic() - started:.0f}s",
        flush=True,
    )
    return url


def measure(
    admin: str, template: str, schema: str, name: str, algorithm, cutoff: datetime, limit: float, old_parents: bool = True
) -> Outcome:
    """``old_parents``: the writer also writes under old runs (off for the one-shot bound: a batch
    holding every expired root is rolled back by any such write, so it only measures retries)."""
    work = f"{template}_run"
    url = fixtures.copy_database(admin, template, work)
    before = total_rows(url)
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        lsn = q(conn, "bench/wal_lsn.sql")[0]["lsn"]
    sampler, writer = Sampler(url, work), Writer(url, cutoff if old_parents else None)
    sampler.start()
    writer.start()
    started = time.monotonic()
    complete = algorithm(url, cutoff, limit)
    seconds = time.monotonic() - started
    writer.stop.set()
    sampler.stop.set()
    writer.join()
    sampler.join()
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        wal = q(conn, "bench/wal_bytes.sql", {"since": lsn})[0]["bytes"]
    inserted = len(writer.ids) * 6 + len(writer.old_parent_children)
    out = Outcome(name, schema, seconds, before + inserted - total_rows(url), sampler.longest, wal)
    out.wrong, out.dangling, out.details = damage(url, writer.ids, writer.old_parent_children)
    out.writer_p99_ms, out.writer_errors, out.complete = writer.p99_ms(), writer.errors, complete
    fixtures.drop_database(admin, work)
    print(
        f"  {schema:5} {name:22} {out.rows:>10,} rows {out.seconds:8.1f}s {out.rate:>9,.0f} rows/s  "
        f"longest txn {out.longest_txn:7.2f}s  WAL {out.wal_bytes / 1e6:8.0f} MB  wrong {out.wrong:>7,}  "
        f"dangling {out.dangling:>7,}  writer p99 {out.writer_p99_ms:6.1f} ms{'' if complete else '  (time-boxed)'}",
        flush=True,
    )
    for key, value in sorted(out.details.items()):
        print(f"        {key}: {value:,}")
    return out


def default_conf(admin: str, dump: Path, runs: int, anchor: datetime) -> None:
    """The weekly run as a new user gets it: the default policy, on a real Dify 1.14.1 schema at a
    size where ``messages`` is far above ``unindexed_lookup_max_mb``: every family must be purged
    (the chatflow rule's lookup, which Dify indexes only behind conversation_id, must not defer it)."""
    from dify_maintenance.core.policy import resolve
    from dify_maintenance.retention import steps as retention

    name = "dm_bench_default_conf"
    url = fixtures.recreate_database(admin, name)
    fixtures.load_dump(url, dump)
    generator.generate(url_connector(url), anchor=anchor, scale=generator.Scale(runs=runs, conversations_per_run=2.0))
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute("VACUUM ANALYZE")
        mb = conn.execute("SELECT pg_total_relation_size('messages') / 1048576.0 AS mb").fetchone()["mb"]
    pol = resolve(None, {"first_run_dry_run": False})  # everything else: the shipped defaults
    connector = url_connector(url)
    started = time.monotonic()
    ctx = retention.preflight(connector, pol, dag_id="dify_retention", run_id="default-conf", logical_date=anchor)
    results = [
        retention.run_purge(connector, ctx, fam, pol, None if not pol.archive else _archive_store()) for fam in ctx["families"]
    ]
    seconds = time.monotonic() - started
    deferred = {r["family"]: r["deferred"] for r in results if r.get("deferred")}
    print(f"default conf on {dump.name}, {runs:,} runs, messages {mb:,.0f} MB: {seconds:.1f}s", flush=True)
    for r in results:
        deleted = sum(c["deleted"] for c in r["tables"].values())
        built = ", ".join(r["indexes"]["built"]) or "none"
        print(f"  {r['family']:14} deleted {deleted:>9,}  deferred: {r.get('deferred')}  indexes built: {built}", flush=True)
    print(f"  outcome: {'deferred' if deferred else 'success'} (target: success, every family purged)", flush=True)
    fixtures.drop_database(admin, name)


def _archive_store():
    import tempfile

    from dify_maintenance.storage.stores import StoreConfig

    return StoreConfig("fs", {"root": tempfile.mkdtemp(prefix="dm-bench-default-")})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=120_000, help="workflow runs in the full-size template")
    parser.add_argument("--conversations-per-run", type=float, default=1.35)
    parser.add_argument("--schemas", default="1.14,0.15")
    parser.add_argument("--dify114-seconds", type=float, default=900, help="time box for Dify 1.14's algorithm")
    parser.add_argument("--dify18-seconds", type=float, default=180, help="time box for Dify 1.8's algorithm (slow on 0.15)")
    parser.add_argument("--keep-templates", action="store_true")
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        help="a checkout of the engine to compare with (e.g. `git worktree add /tmp/base <commit>`): 'today' in the ratios",
    )
    parser.add_argument(
        "--default-conf",
        type=Path,
        metavar="DUMP",
        help="only the default-policy check: a real schema dump (dify-1.14.1.sql) with --runs runs",
    )
    args = parser.parse_args()
    admin, where = pgembed.admin_url("DIFY_MAINT_TEST_PG_URL")
    with psycopg.connect(admin) as conn:  # Dify dates rows by the database's clock
        anchor = conn.execute("SELECT now() AT TIME ZONE 'UTC'").fetchone()[0].replace(microsecond=0)
    if args.default_conf:
        default_conf(admin, args.default_conf, args.runs, anchor)
        return
    cutoff = anchor - timedelta(days=CUTOFF_DAYS)
    print(f"server: {where}; {args.runs:,} runs per template; cutoff {CUTOFF_DAYS} days", flush=True)
    results: list[Outcome] = []
    scaling: dict[str, float] = {}
    for schema in args.schemas.split(","):
        full = generator.Scale(runs=args.runs, conversations_per_run=args.conversations_per_run)
        tpl = f"dm_bench_purge_{schema.replace('.', '')}"
        build_template(admin, tpl, schema, full, anchor)
        algorithms = [
            ("naive", naive, 0.0),
            ("naive, same tables", naive_same_tables, 0.0),
            ("one-shot", ours(False, one_shot=True), 0.0),
            ("ours, archive off", ours(False), 0.0),
            ("ours, archive on", ours(True), 0.0),
        ]
        if args.baseline_tree:
            algorithms += [("today, archive off", engine_of(args.baseline_tree, False), 0.0)]
            algorithms += [("today, archive on", engine_of(args.baseline_tree, True), 0.0)]
        if schema == "1.14":
            algorithms.append(("dify 1.14", dify_114, args.dify114_seconds))
        else:
            algorithms.append(("dify 1.8", dify_18, args.dify18_seconds))
        for name, algorithm, limit in algorithms:
            results.append(measure(admin, tpl, schema, name, algorithm, cutoff, limit, old_parents=name != "one-shot"))
        if schema == args.schemas.split(",")[0]:
            half = generator.Scale(runs=args.runs // 2, conversations_per_run=args.conversations_per_run)
            half_tpl = f"{tpl}_half"
            build_template(admin, half_tpl, schema, half, anchor)
            small = measure(admin, half_tpl, schema, "ours, off, half size", ours(False), cutoff, 0)
            big = next(r for r in results if r.schema == schema and r.name == "ours, archive off")
            scaling[schema] = big.seconds / small.seconds
            print(f"  scaling {schema}: {big.rows / small.rows:.2f}x the rows took {scaling[schema]:.2f}x the time", flush=True)
            if not args.keep_templates:
                fixtures.drop_database(admin, half_tpl)
        if not args.keep_templates:
            fixtures.drop_database(admin, tpl)
    print_summary(results, scaling)


def print_summary(results: list[Outcome], scaling: dict[str, float]) -> None:
    """Every ratio the purge's targets are stated in, with the target next to it."""
    print("\nratios (rows per second; >1 means ours is faster)")
    for schema in dict.fromkeys(r.schema for r in results):
        by = {r.name: r for r in results if r.schema == schema}
        off, on = by["ours, archive off"], by["ours, archive on"]
        dify = by.get("dify 1.14") or by.get("dify 1.8")

        def ratio(a: Outcome, b: Outcome | None, target: str, schema: str = schema) -> None:
            if b is not None and b.rate:
                print(f"  {schema}: {a.name} / {b.name} {a.rate / b.rate:.2f} ({target})")

        if dify is not None and dify.name == "dify 1.14":
            ratio(off, dify, "target >= 1.2")
            ratio(on, dify, "target >= 0.8")
        elif dify is not None:
            ratio(off, dify, "no target on 0.15")
        ratio(off, by.get("one-shot"), "target >= 0.85")
        ratio(off, by.get("today, archive off"), "target >= 2")
        ratio(on, by.get("today, archive on"), "no target")
        ratio(off, by.get("naive, same tables"), "no target: the naive statements break data")
        ratio(off, by.get("naive"), "no target: the naive statements do less and break data")
        half = by.get("ours, off, half size")
        longest = f"ours off {off.longest_txn:.2f}s / on {on.longest_txn:.2f}s" + (
            f" / off at half the data {half.longest_txn:.2f}s" if half else ""
        )
        print(f"  {schema}: longest transaction, {longest} (target <= 0.5)")
        damaged = off.wrong + off.dangling + on.wrong + on.dangling
        print(f"  {schema}: rows wrongly deleted or dangling, ours {damaged} (target 0)")
    for schema, ratio_ in scaling.items():
        print(f"  {schema}: doubling the data took {ratio_:.2f}x the time (target <= 2.1)")


if __name__ == "__main__":
    main()
