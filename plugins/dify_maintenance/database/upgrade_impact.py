"""Upgrade impact: which of the migrations between the current Dify version and the target
rewrite or lock large tables, how big those tables are, and how long each step may take,
now and after the planned purge (so the operator sees the time a cleanup saves).

The migrations come from ``resources/upgrade_impact.json`` (read from each Dify release's alembic migrations); sizes from
the live catalog; "after the purge" from the planner's estimate of rows older than the cutoff.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache

import psycopg

from dify_maintenance import INCLUDE_DIR
from dify_maintenance.core.db import fetch_one
from dify_maintenance.core.errors import InvalidPolicy
from dify_maintenance.core.schema import SchemaSnapshot, version_key, version_table
from dify_maintenance.database.schema_diff import table_sizes

LOCKING_KINDS = ("rewrite", "index_build", "scan")


@lru_cache(maxsize=1)
def impact_data() -> dict:
    with open(INCLUDE_DIR / "upgrade_impact.json", encoding="utf-8") as fh:
        return json.load(fh)


def known_targets() -> list[str]:
    return list(version_table()["release_heads"])


def validate_target(current: str, target: str) -> None:
    if target not in known_targets():
        raise InvalidPolicy(f"unknown target Dify version {target!r}; known: {', '.join(known_targets())}")
    if version_key(target) < version_key(current):
        raise InvalidPolicy(f"target Dify {target} is older than the current {current}; downgrades are not supported")


def migrations_between(current: str, target: str) -> list[dict]:
    """Migrations first released after ``current`` up to and including ``target``."""
    low, high = version_key(current), version_key(target)
    return [m for m in impact_data()["migrations"] if low < version_key(m["release"]) <= high]


def kept_fractions(
    conn: psycopg.Connection, snap: SchemaSnapshot, tables: list[str], cutoff: datetime, sizes: dict[str, dict]
) -> dict[str, float]:
    """Per table, the share of rows at or after the cutoff, from the planner (reads no rows)."""
    out: dict[str, float] = {}
    for table in tables:
        total = int(sizes.get(table, {}).get("row_estimate", 0))
        if not snap.has_column(table, "created_at") or total <= 0:
            continue
        row = fetch_one(conn, "upgrade/older_estimate.sql", {"cutoff": cutoff}, table=table, column="created_at")
        older = int(row["QUERY PLAN"][0]["Plan"]["Plan Rows"]) if row else 0
        out[table] = round(max(0.0, 1 - min(older, total) / total), 4)
    return out


def impact(
    conn: psycopg.Connection,
    current: str,
    target: str,
    kept: dict[str, float] | None = None,
    sizes: dict[str, dict] | None = None,
) -> dict:
    """The locking migrations ahead, each sized now and after the purge, with durations."""
    rates = impact_data()["rates_mb_per_second"]
    sizes = sizes if sizes is not None else table_sizes(conn)
    items = []
    for mig in migrations_between(current, target):
        facts = sizes.get(mig["table"])
        byte_key = "total_bytes" if mig["kind"] == "rewrite" else "heap_bytes"
        now = int(facts[byte_key]) if facts else 0
        after = int(now * (kept or {}).get(mig["table"], 1.0))
        rate = rates.get(mig["kind"])
        items.append(
            {
                **mig,
                "locks_writes": mig["kind"] in LOCKING_KINDS,
                "bytes_now": now,
                "rows_now": int(facts["row_estimate"]) if facts else 0,
                "seconds_now": round(now / 1e6 / rate, 3) if rate else 0.0,
                "bytes_after_purge": after,
                "seconds_after_purge": round(after / 1e6 / rate, 3) if rate else 0.0,
            }
        )
    locking = [i for i in items if i["locks_writes"]]
    now_total = round(sum(i["seconds_now"] for i in locking), 3)
    after_total = round(sum(i["seconds_after_purge"] for i in locking), 3)
    return {
        "from": current,
        "to": target,
        "migrations": items,
        "seconds_locked_now": now_total,
        "seconds_locked_after_purge": after_total,
        "seconds_saved": round(now_total - after_total, 3),
        "rates_mb_per_second": rates,
    }


def render_lines(result: dict) -> list[str]:
    lines = [f"upgrade impact Dify {result['from']} -> {result['to']}: {len(result['migrations'])} migrations on big tables"]
    for item in result["migrations"]:
        now = f"now {item['bytes_now'] / 1e6:9.1f} MB ~{item['seconds_now']:7.1f} s"
        after = f"after purge {item['bytes_after_purge'] / 1e6:9.1f} MB ~{item['seconds_after_purge']:7.1f} s"
        lines.append(f"  {item['release']:>7} {item['kind']:22} {item['table']:28} {now} | {after}  {item['change']}")
    lines.append(
        f"  writes blocked for about {result['seconds_locked_now']} s now, "
        f"{result['seconds_locked_after_purge']} s after the purge (saves {result['seconds_saved']} s)"
    )
    return lines
