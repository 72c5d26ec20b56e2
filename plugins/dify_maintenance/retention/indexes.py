"""Supporting indexes for the purge's lookups.

A lookup (child rows by their parent's id, or a keep rule asking "does anything still name this
row?") that no index serves is a scan of the whole table in every batch: on a 28-million-row
table that is the 100-300 s per batch Dify users report. Such a lookup never runs silently: a
small table is scanned with a note; a big one gets an index built ``CONCURRENTLY`` first (by
default: Dify indexes ``messages.workflow_run_id`` only behind ``conversation_id``, so without it
no real deployment's weekly run would purge workflow logs), kept for the next runs and recorded
in ``dify_maintenance.built_indexes``; or, with ``build_missing_indexes`` off, the family stops
with a message that names the missing index and what each batch would read without it.

The indexes are ours: named ``dm_idx_<table>_<column>`` (no Dify migration names an index with
that prefix), partial ``WHERE <column> IS NOT NULL`` (only rows a lookup can match), removable at
any time with ``DROP INDEX CONCURRENTLY`` (the next run builds what it needs again), and dropped at
the end of every run with ``keep_built_indexes`` off.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

import psycopg

from dify_maintenance.core.db import execute, fetch_all, fetch_one
from dify_maintenance.core.policy import Policy
from dify_maintenance.core.schema import SchemaSnapshot

log = logging.getLogger(__name__)

PREFIX = "dm_idx_"
# what releases before this one named the indexes they built (dropped with ours)
OLD_PREFIXES = ("dm_tmp_",)
MB = 1024 * 1024


@dataclass(frozen=True)
class Lookup:
    """An equality lookup the purge runs once per batch, and the index that serves it (if any)."""

    table: str
    column: str
    index: str | None
    purpose: str

    def describe(self) -> str:
        if self.index:
            return f"{self.table}.{self.column} ({self.purpose}): index {self.index}"
        return f"{self.table}.{self.column} ({self.purpose}): NO supporting index, each batch scans {self.table}"


def find_lookup(snap: SchemaSnapshot, table: str, column: str, also: set[str], purpose: str) -> Lookup:
    index = snap.index_for_equalities(table, {column, *also}, must_use=column)
    return Lookup(table, column, index.name if index else None, purpose)


def index_name(table: str, column: str) -> str:
    """Deterministic, within PostgreSQL's 63-byte identifier limit, and recognisably ours."""
    name = f"{PREFIX}{table}_{column}"
    if len(name) <= 63:
        return name
    digest = hashlib.sha1(name.encode(), usedforsecurity=False).hexdigest()[:8]
    return f"{name[:54]}_{digest}"


@dataclass
class Preparation:
    built: list[str]
    blocked: list[str]
    notes: list[str]


def _sizes(conn: psycopg.Connection, tables: list[str]) -> dict[str, int]:
    rows = fetch_all(conn, "introspect/table_sizes.sql", {"tables": tables})
    return {row["table_name"]: int(row["total_bytes"]) for row in rows}


# How often a family waiting for another family's index build tries the lock again.
LOCK_POLL_SECONDS = 0.5


def _lock_builds(conn: psycopg.Connection) -> None:
    """Take the index-build lock, trying rather than waiting (see indexes/lock.sql)."""
    while not fetch_one(conn, "indexes/lock.sql")["got"]:
        time.sleep(LOCK_POLL_SECONDS)


def prepare(conn: psycopg.Connection, lookups: list[Lookup], policy: Policy, *, build: bool) -> Preparation:
    """Decide, per unindexed lookup, scan (small table), build (opt-in) or block (the default).
    A dry run never builds: it reports what would block."""
    missing = {(lk.table, lk.column): lk for lk in lookups if lk.index is None}
    out = Preparation([], [], [])
    if not missing:
        return out
    sizes = _sizes(conn, sorted({t for t, _ in missing}))
    limit = policy.unindexed_lookup_max_mb * MB
    _lock_builds(conn)
    try:
        leftovers = {row["index_name"]: row["valid"] for row in fetch_all(conn, "indexes/ours.sql", {"prefixes": [PREFIX]})}
        for (table, column), lookup in sorted(missing.items()):
            size = sizes.get(table, 0)
            name = index_name(table, column)
            if leftovers.get(name):
                continue  # built by a family purged in parallel while we waited for the lock
            if size <= limit:
                out.notes.append(
                    f"{table}.{column} has no index: each batch scans {table} ({size / MB:.1f} MB, "
                    f"under unindexed_lookup_max_mb={policy.unindexed_lookup_max_mb})"
                )
                continue
            statement = f"CREATE INDEX CONCURRENTLY {name} ON public.{table} ({column}) WHERE {column} IS NOT NULL"
            if not build:
                out.blocked.append(
                    f"{lookup.purpose} needs an index on {table}.{column}: without it every batch reads all of "
                    f"{table} ({size / MB:,.0f} MB). Run `{statement}` or set build_missing_indexes"
                )
                continue
            if name in leftovers:  # an interrupted earlier build leaves an INVALID index behind
                execute(conn, "indexes/drop_concurrently.sql", index=name)
            started = time.monotonic()
            log.info("building %s on %s (%.0f MB) concurrently", name, table, size / MB)
            execute(conn, "indexes/create_concurrently.sql", index=name, table=table, column=column)
            seconds = time.monotonic() - started
            execute(conn, "indexes/record.sql", {"name": name, "table": table, "column": column, "seconds": seconds})
            out.built.append(name)
            out.notes.append(
                f"built {name} on {table}({column}) concurrently in {seconds:.1f}s; kept for the next runs "
                f"(remove: DROP INDEX CONCURRENTLY public.{name})"
            )
    finally:
        execute(conn, "indexes/unlock.sql")
    return out


def drop_ours(conn: psycopg.Connection) -> list[str]:
    """Drop every index we built (by prefix), valid or not (a run with keep_built_indexes off)."""
    dropped = []
    for row in fetch_all(conn, "indexes/ours.sql", {"prefixes": [PREFIX, *OLD_PREFIXES]}):
        execute(conn, "indexes/drop_concurrently.sql", index=row["index_name"])
        execute(conn, "indexes/forget.sql", {"name": row["index_name"]})
        dropped.append(row["index_name"])
    return dropped


def built(conn: psycopg.Connection) -> list[dict]:
    """The indexes of ours that exist now, with what they cost (the report and the page list them)."""
    return fetch_all(conn, "indexes/ours.sql", {"prefixes": [PREFIX, *OLD_PREFIXES]})
