"""What the connected database actually is: Dify version, tables, columns and indexes.

The engine adapts to what exists rather than to what a version number promises: a release's
index set is a hint, the catalog of the live database is the truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

import psycopg

from dify_maintenance import INCLUDE_DIR
from dify_maintenance.core.db import fetch_all, fetch_one
from dify_maintenance.core.errors import NotDifyDatabase, UnsupportedDifyVersion

# Tables every Dify release since 0.6 has; their absence means "not a Dify database".
DIFY_CORE_TABLES = ("apps", "tenants", "workflow_runs", "messages", "conversations", "end_users")


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


@lru_cache(maxsize=1)
def version_table() -> dict:
    with open(INCLUDE_DIR / "dify_versions.json", encoding="utf-8") as fh:
        return json.load(fh)


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str | None, ...]
    partial: bool
    unique: bool
    primary: bool = False
    predicate: str | None = None

    def serves_equality(self) -> bool:
        """Can it serve ``first_key_column = value``? A full index can, and so can one that leaves
        out only the rows whose first key column is NULL (equality never matches those)."""
        return not self.partial or self.predicate == f"({self.columns[0]} IS NOT NULL)"


@dataclass
class SchemaSnapshot:
    """Tables, columns and indexes of the public schema, read once per task."""

    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    indexes: dict[str, list[Index]] = field(default_factory=dict)
    server_version_num: int = 0

    @property
    def has_tid_range_scans(self) -> bool:
        """PostgreSQL 14 added TID Range Scan: ``ctid`` block ranges read only their own blocks."""
        return self.server_version_num >= 140000

    def has_table(self, table: str) -> bool:
        return table in self.columns

    def has_column(self, table: str, column: str) -> bool:
        return column in self.columns.get(table, {})

    def index_leading(self, table: str, columns: list[str] | tuple[str, ...]) -> Index | None:
        """A full (non-partial) index whose leading key columns are exactly ``columns`` in order."""
        want = tuple(columns)
        for idx in self.indexes.get(table, []):
            if not idx.partial and idx.columns[: len(want)] == want:
                return idx
        return None

    def primary_key(self, table: str) -> tuple[str, ...]:
        for idx in self.indexes.get(table, []):
            if idx.primary:
                return tuple(c for c in idx.columns if c)
        return ()

    def index_for_equalities(self, table: str, columns: set[str], must_use: str | None = None) -> Index | None:
        """The index that serves an equality lookup on ``columns`` best: the longest run of
        leading key columns that the lookup supplies, which must reach ``must_use`` if given."""
        best: tuple[int, Index] | None = None
        for idx in self.indexes.get(table, []):
            if not idx.serves_equality():
                continue
            prefix = 0
            for col in idx.columns:
                if col not in columns:
                    break
                prefix += 1
            if must_use and must_use not in idx.columns[:prefix]:
                continue
            if prefix and (best is None or prefix > best[0]):
                best = (prefix, idx)
        return best[1] if best else None


def snapshot(conn: psycopg.Connection) -> SchemaSnapshot:
    server = fetch_one(conn, "introspect/server.sql")
    snap = SchemaSnapshot(server_version_num=int(server["server_version_num"]) if server else 0)
    for row in fetch_all(conn, "introspect/columns.sql"):
        snap.columns.setdefault(row["table_name"], {})[row["column_name"]] = row["data_type"]
    for row in fetch_all(conn, "introspect/indexes.sql"):
        snap.indexes.setdefault(row["table_name"], []).append(
            Index(row["index_name"], tuple(row["columns"]), row["partial"], row["is_unique"], row["is_primary"], row["predicate"])
        )
    return snap


@dataclass(frozen=True)
class DifyVersion:
    revision: str
    version: str
    is_release_head: bool
    known: bool = True

    def describe(self) -> str:
        if not self.known:
            return (
                f"Dify at alembic {self.revision}: not on Dify's upstream chain up to {self.version.removeprefix('after ')} "
                "(a newer release, or a fork's own migration)"
            )
        where = "release head" if self.is_release_head else "a revision between releases"
        return f"Dify {self.version} (alembic {self.revision}, {where})"


def detect_version(conn: psycopg.Connection, snap: SchemaSnapshot, allow_unknown: bool = False) -> DifyVersion:
    """Map the alembic head to a Dify release, or stop before anything is touched.

    ``allow_unknown``: a head not on the chain this package knows (a release newer than the
    newest known, or a fork's migration; which one cannot be told apart, so it is never guessed)
    comes back with ``known=False`` and version "after <newest known>", for the schema-drift
    guard (``core.drift``) to decide on, instead of stopping here."""
    missing = [t for t in DIFY_CORE_TABLES if not snap.has_table(t)]
    if not snap.has_table("alembic_version") or missing:
        what = "no alembic_version table" if not snap.has_table("alembic_version") else "missing " + ", ".join(missing)
        raise NotDifyDatabase(f"this database is not a Dify database ({what}); check the connection")
    rows = fetch_all(conn, "introspect/alembic_head.sql")
    if not rows:
        raise NotDifyDatabase("alembic_version is empty: Dify's migrations never ran on this database")
    if len(rows) > 1:
        # Dify has one linear migration chain: two heads mean a half-applied branch merge or a
        # hand edit, and the schema could be either version's. Guessing could purge by the wrong rules.
        raise UnsupportedDifyVersion(
            f"alembic_version holds {len(rows)} revisions ({', '.join(r['version_num'] for r in rows)}): the schema "
            "version is ambiguous; fix alembic_version (Dify's flask db upgrade leaves exactly one) and run again"
        )
    revision = rows[0]["version_num"]
    table = version_table()
    heads = {rev: ver for ver, rev in table["release_heads"].items()}
    release = heads.get(revision) or table["first_release"].get(revision)
    if release is None and allow_unknown:
        return DifyVersion(revision=revision, version=f"after {table['newest_supported']}", is_release_head=False, known=False)
    if release is None:
        raise UnsupportedDifyVersion(
            f"unknown Dify alembic head {revision!r}: newer than {table['newest_supported']} or not a "
            f"Dify release; supported are {table['oldest_supported']} to {table['newest_supported']}"
        )
    if not (version_key(table["oldest_supported"]) <= version_key(release) <= version_key(table["newest_supported"])):
        raise UnsupportedDifyVersion(
            f"Dify {release} (alembic {revision}) is not supported; supported are "
            f"{table['oldest_supported']} to {table['newest_supported']}"
        )
    return DifyVersion(revision=revision, version=release, is_release_head=revision in heads)
