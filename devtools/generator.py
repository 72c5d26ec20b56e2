"""Deterministic synthetic Dify data for the demo, the tests and the benchmarks.

Everything is set-based SQL (``devtools/sql/generate``) keyed on md5 of the seed, so the same
seed and anchor always produce byte-identical rows, on any supported Dify version: statements
adapt to the tables and columns the target schema has.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from dify_maintenance.core.db import Connector, connection
from dify_maintenance.core.schema import snapshot
from dify_maintenance.core.sqltemplates import register_templates, render
from dify_maintenance.storage.stores import StoreConfig

log = logging.getLogger(__name__)

DEVTOOLS_SQL = Path(__file__).resolve().parent / "sql"
GENERATE_SQL = DEVTOOLS_SQL / "generate"
register_templates("generate", GENERATE_SQL)
register_templates("devtools", DEVTOOLS_SQL)

# The statement that writes most rows; it runs in parallel sessions over shards of the runs.
PARALLEL_STEP = "07_node_executions.sql"
DEFAULT_WORKERS = 2

# Statements that need a table which older Dify versions lack.
REQUIRES = {
    "10_offloads.sql": "workflow_node_execution_offload",
    "11_pauses.sql": "workflow_pauses",
    "12_trigger_logs.sql": "workflow_trigger_logs",
    "19_human_input_forms.sql": "human_input_forms",
    "20_agent_sessions.sql": "agent_runtime_sessions",
    "21_agent_debug_conversations.sql": "agent_debug_conversations",
    "22_agent_drive_files.sql": "agent_drive_files",
    "23_archive_bundles.sql": "workflow_run_archive_bundles",
}


@dataclass(frozen=True)
class Scale:
    """How much to generate; ``runs`` drives everything (about 17 node executions per run)."""

    runs: int = 2000
    tenants: int = 3
    span_days: int = 120
    # About 6.5 messages per conversation; None means one conversation per three runs. The
    # purge benchmark raises it to reach a million messages.
    conversations_per_run: float | None = None

    @property
    def conversations(self) -> int:
        if self.conversations_per_run is None:
            return max(self.runs // 3, 10)
        return max(int(self.runs * self.conversations_per_run), 10)

    @property
    def end_users(self) -> int:
        return max(self.runs // 8, 10 * self.tenants)


def stable_uuid(key: str) -> uuid.UUID:
    """The uuid the SQL helper ``pg_temp.u(key)`` computes, for tests that name generated rows."""
    return uuid.UUID(hashlib.md5(key.encode(), usedforsecurity=False).hexdigest())


def tenant_ids(seed: str, scale: Scale) -> list[uuid.UUID]:
    return [stable_uuid(f"{seed}:tenant:{i}") for i in range(1, scale.tenants + 1)]


def generate(
    connector: Connector,
    *,
    seed: str = "dify",
    anchor: datetime,
    scale: Scale,
    storage: StoreConfig | None = None,
    workers: int = DEFAULT_WORKERS,
) -> dict[str, float]:
    """Fill the database; returns seconds per statement. ``anchor`` is "now" for the data (naive UTC).

    The node executions (by far the most rows) are written by ``workers`` sessions in parallel,
    each taking a deterministic shard of the runs, so the result does not depend on ``workers``.
    """
    params = {
        "seed": seed,
        "anchor": anchor,
        "span_days": scale.span_days,
        "tenants": scale.tenants,
        "runs": scale.runs,
        "conversations": scale.conversations,
        "end_users": scale.end_users,
        "tenant_ids": tenant_ids(seed, scale),
    }
    timings: dict[str, float] = {}
    with connection(connector) as conn:
        snap = snapshot(conn)

    def has(table: str, column: str) -> bool:
        return snap.has_column(table, column)

    steps = [
        p.name for p in sorted(GENERATE_SQL.glob("*.sql")) if not (REQUIRES.get(p.name) and not snap.has_table(REQUIRES[p.name]))
    ]
    before = [s for s in steps if s < PARALLEL_STEP]
    after = [s for s in steps if s > PARALLEL_STEP]

    def run_steps(names: list[str], extra: dict | None = None) -> None:
        with connection(connector) as conn, conn.transaction():
            for name in names:
                started = time.monotonic()
                query = render(f"generate/{name}", has=has, has_table=snap.has_table)
                with conn.cursor() as cur:
                    cur.execute(query, None if name.startswith("00_") else {**params, **(extra or {})})
                if not name.startswith("00_"):
                    timings[name.removesuffix(".sql")] = time.monotonic() - started

    run_steps(before)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        shards = [
            pool.submit(run_steps, ["00_helpers.sql", PARALLEL_STEP], {"shard": k, "shards": workers}) for k in range(workers)
        ]
        for future in shards:
            future.result()
    timings[PARALLEL_STEP.removesuffix(".sql")] = time.monotonic() - started
    run_steps(["00_helpers.sql", *after])
    with connection(connector) as conn:
        with conn.cursor() as cur:
            cur.execute("ANALYZE")
        if storage is not None:
            _write_objects(conn, storage, params["tenant_ids"])
    log.info("generated %s", {k: round(v, 2) for k, v in timings.items()})
    return timings


def _write_objects(conn, storage: StoreConfig, tenants: list[uuid.UUID]) -> None:
    """Store an object for every generated upload so file tooling finds what the rows name."""
    op = storage.operator()
    with conn.cursor() as cur:
        cur.execute(render("devtools/upload_keys.sql"), {"tenant_ids": tenants})
        for row in cur:
            op.write(row["key"], hashlib.sha256(row["key"].encode()).digest() * (row["size"] // 32 + 1))


def write_offload_payloads(connector: Connector, storage: StoreConfig) -> int:
    """Store what Dify offloads: the JSON payload of each offloaded node input or output (the
    log migration reads and inlines it). Returns how many were written."""
    op = storage.operator()
    written = 0
    with connection(connector) as conn, conn.cursor() as cur:
        if not snapshot(conn).has_table("workflow_node_execution_offload"):
            return 0
        cur.execute(render("devtools/offload_keys.sql"))
        for row in cur:
            payload = {"node_execution_id": row["node_execution_id"], row["type"]: {"text": "x" * 4096, "items": list(range(20))}}
            op.write(row["key"], json.dumps(payload).encode())
            written += 1
    return written
