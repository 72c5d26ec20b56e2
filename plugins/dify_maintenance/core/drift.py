"""The schema-drift guard: what to do on a Dify newer than the newest release this package knows.

A team that upgraded Dify on Tuesday should not find its weekly retention stopped, and the purge
must not run blind either. Dify declares almost no foreign keys, so a new table that points at a
purged row (a run, a message, a conversation) would be left dangling by a purge that does not know
it. The guard compares the live catalog with the newest known release's (``include/
known_schemas.json``), lists the tables and columns it does not know, and flags every unknown
column whose name and type look like a reference to a table the run purges. No such reference:
the run goes ahead with the drift in its report (``stop_on_unknown_version`` stops instead). Any
such reference: stop before anything is deleted, naming each column and what to do.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache

import psycopg

from dify_maintenance import INCLUDE_DIR
from dify_maintenance.core.errors import SchemaDrift
from dify_maintenance.core.schema import DifyVersion, SchemaSnapshot, detect_version, version_table

# Column names that, with a uuid or text type, name a row of these tables (the first match wins).
REFERENCE_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"(^|_)node_execution_id$", "workflow_node_executions"),
    (r"(^|_)run_id$", "workflow_runs"),
    (r"(^|_)message_id$", "messages"),
    (r"(^|_)conversation_id$", "conversations"),
    (r"(^|_)end_user_id$", "end_users"),
    (r"(^|_)upload_file_id$", "upload_files"),
    (r"(^|_)tool_file_id$", "tool_files"),
    (r"(^|_)file_id$", "upload_files"),
    (r"(^|_)app_id$", "apps"),
)
REFERENCE_TYPES = ("uuid", "character varying", "text", "character")


@lru_cache(maxsize=1)
def known_schemas() -> dict[str, dict[str, list[str]]]:
    with open(INCLUDE_DIR / "known_schemas.json", encoding="utf-8") as fh:
        return {k: v for k, v in json.load(fh).items() if not k.startswith("_")}


@dataclass
class Drift:
    """What the live schema has that ``known_version`` does not."""

    known_version: str
    tables: list[str] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    references: list[dict] = field(default_factory=list)

    def summary(self, limit: int = 25) -> str:
        def listed(names: list[str]) -> str:
            more = f", and {len(names) - limit} more" if len(names) > limit else ""
            return f" ({', '.join(names[:limit])}{more})" if names else ""

        parts = [f"compared with Dify {self.known_version}: {len(self.tables)} unknown tables{listed(self.tables)}"]
        parts.append(f"{len(self.columns)} unknown columns in known tables{listed(self.columns)}")
        if self.references:
            names = ", ".join(f"{r['table']}.{r['column']} -> {r['target']}" for r in self.references)
            parts.append(f"columns that look like references: {names}")
        return "; ".join(parts)


def looks_like_reference(column: str, data_type: str) -> str | None:
    if data_type not in REFERENCE_TYPES:
        return None
    for pattern, target in REFERENCE_PATTERNS:
        if re.search(pattern, column):
            return target
    return None


def compare(snap: SchemaSnapshot, known_version: str) -> Drift:
    known = known_schemas().get(known_version)
    if known is None:
        raise SchemaDrift(f"no known schema for Dify {known_version} in resources/known_schemas.json")
    drift = Drift(known_version)
    for table in sorted(snap.columns):
        new_table = table not in known
        if new_table:
            drift.tables.append(table)
        for column, data_type in snap.columns[table].items():
            if not new_table and column in known[table]:
                continue
            if not new_table:
                drift.columns.append(f"{table}.{column}")
            if target := looks_like_reference(column, data_type):
                drift.references.append({"table": table, "column": column, "target": target})
    return drift


def guard(snap: SchemaSnapshot, known_version: str, purged: set[str], stop_on_unknown: bool) -> tuple[Drift, list[str]]:
    """Stop (``SchemaDrift``) or return the drift and the notes the run's report carries."""
    drift = compare(snap, known_version)
    blocking = [r for r in drift.references if r["target"] in purged]
    if blocking:
        names = "; ".join(f"{r['table']}.{r['column']} (names {r['target']})" for r in blocking)
        raise SchemaDrift(
            f"this Dify is newer than {known_version}, the newest version this package knows, and has columns that "
            f"look like references to rows this run would delete: {names}. Nothing was deleted. Upgrade "
            "dify-maintenance to a release that knows this Dify, or leave out the families that purge those tables."
        )
    if stop_on_unknown:
        raise SchemaDrift(
            f"this Dify is newer than {known_version} ({drift.summary()}); the policy's stop_on_unknown_version "
            "stops here. Nothing was deleted."
        )
    notes = [f"schema drift: this Dify is newer than {known_version}, the newest this package knows; {drift.summary()}"]
    return drift, notes


def checked_version(
    conn: psycopg.Connection, snap: SchemaSnapshot, purged: set[str], stop_on_unknown: bool = False
) -> tuple[DifyVersion, list[str]]:
    """The database's Dify version for a run that deletes from ``purged``: a known one as is, an
    unknown head through the guard (stopping, or with the drift as notes for the report)."""
    version = detect_version(conn, snap, allow_unknown=True)
    if version.known:
        return version, []
    _drift, notes = guard(snap, version_table()["newest_supported"], purged, stop_on_unknown)
    return version, [version.describe(), *notes]
