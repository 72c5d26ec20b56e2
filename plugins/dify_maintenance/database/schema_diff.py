"""Schema snapshots and their diff: what an upgrade will change, and what it will cost.

Replaces the manual routine of ``pg_dump -s`` of two versions and a diff in an editor. A
snapshot is tables, columns (type, default, nullability), indexes and constraints as the server
prints them. A ``pg_dump -s`` file is snapshotted by loading it into a scratch database on the
same server, so both sides are printed by the same PostgreSQL and compare as equal text.
Every change is classified by what it does to a live table (rewrite, blocking index build,
scan under lock, catalog only) and sized by the live table it touches.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg

from dify_maintenance.core.db import DbTarget, connection, execute, fetch_all
from dify_maintenance.core.errors import MaintenanceError

REWRITE = "table rewrite"
INDEX_BUILD = "blocking index build"
SCAN = "scan under lock"
METADATA = "catalog only"
NEW_TABLE = "new table"
DROPPED_TABLE = "dropped table"
# The order in which the report lists changes: the expensive ones first.
IMPACT_ORDER = (REWRITE, INDEX_BUILD, SCAN, NEW_TABLE, DROPPED_TABLE, METADATA)
# Column defaults that PostgreSQL must evaluate per row (so ADD COLUMN rewrites the table).
_VOLATILE_DEFAULT = re.compile(r"uuid_generate|gen_random_uuid|nextval|random\(|clock_timestamp|timeofday", re.I)
_VARCHAR = re.compile(r"^character varying(?:\((\d+)\))?$")
_NUMERIC = re.compile(r"^numeric(?:\((\d+),(\d+)\))?$")


# Dify's dumps create uuid-ossp; a server without contrib (pgserver) gets the same function from core.
UUID_OSSP = """DO $uuid$
BEGIN
    CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA public;
EXCEPTION WHEN feature_not_supported OR undefined_file THEN
    CREATE OR REPLACE FUNCTION public.uuid_generate_v4() RETURNS uuid LANGUAGE sql AS 'SELECT gen_random_uuid()';
END
$uuid$;"""


def dump_text(path: Path) -> str:
    """A ``pg_dump -s`` file made loadable on a server without the uuid-ossp extension."""
    return path.read_text(encoding="utf-8").replace('CREATE EXTENSION IF NOT EXISTS "uuid-ossp" WITH SCHEMA public;', UUID_OSSP)


@dataclass
class Snapshot:
    """tables -> {"columns": {name: {type, default, not_null}}, "indexes": {name: def}, "constraints": {name: def}}."""

    tables: dict[str, dict] = field(default_factory=dict)
    source: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Snapshot:
        data = json.loads(text)
        return cls(tables=data["tables"], source=data.get("source", ""))


def take(conn: psycopg.Connection, source: str = "live database") -> Snapshot:
    snap = Snapshot(source=source)

    def table(name: str) -> dict:
        return snap.tables.setdefault(name, {"columns": {}, "indexes": {}, "constraints": {}})

    for row in fetch_all(conn, "schema_diff/columns.sql"):
        table(row["table_name"])["columns"][row["column_name"]] = {
            "type": row["data_type"],
            "default": row["column_default"],
            "not_null": row["not_null"],
        }
    for row in fetch_all(conn, "schema_diff/indexes.sql"):
        table(row["table_name"])["indexes"][row["index_name"]] = row["definition"]
    for row in fetch_all(conn, "schema_diff/constraints.sql"):
        table(row["table_name"])["constraints"][row["constraint_name"]] = f"{row['constraint_type']}: {row['definition']}"
    return snap


def from_dump(target: DbTarget, dump: Path) -> Snapshot:
    """Snapshot a ``pg_dump -s`` file: load it into a scratch database next to ``target``, read
    it back, drop it. Needs CREATEDB; the Dify database itself is never touched."""
    if not dump.is_file():
        raise MaintenanceError(f"schema dump {dump} does not exist")
    text = dump_text(dump)
    scratch = f"dm_schema_{uuid.uuid4().hex[:10]}"
    with connection(target) as conn:
        execute(conn, "backup/create_database.sql", database=scratch)
    try:
        with connection(target.with_database(scratch)) as conn:
            conn.execute(text.encode())
            conn.execute("SET search_path TO public")
            return take(conn, source=dump.name)
    except psycopg.Error as exc:
        raise MaintenanceError(f"schema dump {dump.name} does not load: {str(exc).splitlines()[0]}") from exc
    finally:
        with connection(target) as conn:
            execute(conn, "backup/drop_database.sql", database=scratch)


def load(target: DbTarget, reference: str) -> Snapshot:
    """A snapshot from a saved snapshot (``.json``) or a ``pg_dump -s`` file (anything else)."""
    path = Path(reference)
    if path.suffix == ".json":
        return Snapshot.from_json(path.read_text(encoding="utf-8"))
    return from_dump(target, path)


# ---------------------------------------------------------------- diff


@dataclass
class Change:
    table: str
    what: str  # "column total_tokens: integer -> bigint"
    impact: str  # one of IMPACT_ORDER
    bytes: int = 0
    rows: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        size = f"{self.bytes / 1e6:,.0f} MB, ~{self.rows:,} rows, est. {self.seconds:,.1f} s" if self.bytes else "empty or new"
        return f"[{self.impact}] {self.table}: {self.what} ({size})"


def _type_change_rewrites(old: str, new: str) -> bool:
    """False for the binary-coercible widenings PostgreSQL applies without a rewrite."""
    if old == new:
        return False
    old_vc, new_vc = _VARCHAR.match(old), _VARCHAR.match(new)
    if old_vc and (
        new == "text" or (new_vc and (not new_vc.group(1) or (old_vc.group(1) and int(new_vc.group(1)) >= int(old_vc.group(1)))))
    ):
        return False
    if old == "text" and new_vc and not new_vc.group(1):
        return False
    old_num, new_num = _NUMERIC.match(old), _NUMERIC.match(new)
    if (
        old_num
        and new_num
        and (
            not new_num.group(1)
            or (old_num.group(1) and old_num.group(2) == new_num.group(2) and int(new_num.group(1)) >= int(old_num.group(1)))
        )
    ):
        return False
    return True


def diff(current: Snapshot, target: Snapshot) -> list[Change]:
    """What turning ``current`` into ``target`` changes, table by table, unsized."""
    changes: list[Change] = []
    for name in sorted(set(target.tables) - set(current.tables)):
        spec = target.tables[name]
        indexes = ", ".join(sorted(spec["indexes"])) or "no indexes"
        changes.append(Change(name, f"new table ({len(spec['columns'])} columns; indexes: {indexes})", NEW_TABLE))
    for name in sorted(set(current.tables) - set(target.tables)):
        changes.append(Change(name, "table dropped", DROPPED_TABLE))
    for name in sorted(set(current.tables) & set(target.tables)):
        changes.extend(_table_diff(name, current.tables[name], target.tables[name]))
    return changes


def _table_diff(table: str, old: dict, new: dict) -> list[Change]:
    out: list[Change] = []
    for col in sorted(set(new["columns"]) - set(old["columns"])):
        spec = new["columns"][col]
        default = spec["default"] or ""
        impact = REWRITE if _VOLATILE_DEFAULT.search(default) else METADATA
        if spec["not_null"] and not default:
            impact = SCAN  # fails on a non-empty table unless the migration backfills first
        out.append(Change(table, f"column {col} added ({spec['type']}{' DEFAULT ' + default if default else ''})", impact))
    for col in sorted(set(old["columns"]) - set(new["columns"])):
        out.append(Change(table, f"column {col} dropped", METADATA))
    for col in sorted(set(old["columns"]) & set(new["columns"])):
        before, after = old["columns"][col], new["columns"][col]
        if before["type"] != after["type"]:
            impact = REWRITE if _type_change_rewrites(before["type"], after["type"]) else METADATA
            out.append(Change(table, f"column {col}: {before['type']} -> {after['type']}", impact))
        if before["not_null"] != after["not_null"]:
            impact = SCAN if after["not_null"] else METADATA
            out.append(Change(table, f"column {col}: {'SET' if after['not_null'] else 'DROP'} NOT NULL", impact))
        if before["default"] != after["default"]:
            out.append(Change(table, f"column {col}: default {before['default']} -> {after['default']}", METADATA))
    old_by_def = {d: n for n, d in old["indexes"].items()}
    for idx in sorted(set(new["indexes"]) - set(old["indexes"])):
        definition = new["indexes"][idx]
        if definition in old_by_def and old_by_def[definition] not in new["indexes"]:
            out.append(Change(table, f"index {old_by_def[definition]} renamed to {idx}", METADATA))
            continue
        out.append(Change(table, f"index {idx} added: {definition}", INDEX_BUILD))
    new_defs = set(new["indexes"].values())
    for idx in sorted(set(old["indexes"]) - set(new["indexes"])):
        if old["indexes"][idx] not in new_defs:
            out.append(Change(table, f"index {idx} dropped", METADATA))
    for idx in sorted(set(old["indexes"]) & set(new["indexes"])):
        if old["indexes"][idx] != new["indexes"][idx]:
            out.append(Change(table, f"index {idx} redefined: {new['indexes'][idx]}", INDEX_BUILD))
    for con in sorted(set(new["constraints"]) - set(old["constraints"])):
        definition = new["constraints"][con]
        if con in new["indexes"] and con not in old["indexes"]:
            continue  # a primary key or unique constraint: its index is already listed
        impact = SCAN if definition.startswith(("c:", "f:")) else INDEX_BUILD
        out.append(Change(table, f"constraint {con} added: {definition}", impact))
    for con in sorted(set(old["constraints"]) - set(new["constraints"])):
        out.append(Change(table, f"constraint {con} dropped", METADATA))
    return out


def size(changes: list[Change], sizes: dict[str, dict], rates_mb_per_second: dict[str, float]) -> list[Change]:
    """Attach the live table's size and an estimated duration to every change, costliest first."""
    rate_for = {REWRITE: "rewrite", INDEX_BUILD: "index_build", SCAN: "scan"}
    for change in changes:
        facts = sizes.get(change.table)
        if not facts or change.impact == NEW_TABLE:
            continue
        change.rows = int(facts["row_estimate"])
        change.bytes = int(facts["total_bytes"] if change.impact == REWRITE else facts["heap_bytes"])
        rate = rates_mb_per_second.get(rate_for.get(change.impact, ""), 0)
        change.seconds = round(change.bytes / 1e6 / rate, 3) if rate else 0.0
    return sorted(changes, key=lambda c: (IMPACT_ORDER.index(c.impact), -c.bytes, c.table, c.what))


def table_sizes(conn: psycopg.Connection) -> dict[str, dict]:
    return {r["table_name"]: r for r in fetch_all(conn, "schema_diff/table_sizes.sql")}


def summary(changes: list[Change]) -> dict:
    counts: dict[str, int] = {}
    for change in changes:
        counts[change.impact] = counts.get(change.impact, 0) + 1
    return {
        "matches": not changes,
        "counts": counts,
        "seconds_locked": round(sum(c.seconds for c in changes if c.impact in (REWRITE, INDEX_BUILD, SCAN)), 3),
        "changes": [asdict(c) | {"line": c.line()} for c in changes],
    }
