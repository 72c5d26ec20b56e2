"""Restore an archived run (or a part of it): only what this package archives, every object
checked before the first row goes back, idempotent, completed by a rerun, with rows whose key
Dify reused since reported as conflicts."""

from __future__ import annotations

import psycopg

from dify_maintenance.core import catalog, state
from dify_maintenance.core.db import Connector, connection, execute, fetch_all, fetch_one
from dify_maintenance.core.errors import ArchiveRefused
from dify_maintenance.core.schema import snapshot
from dify_maintenance.core.sqltemplates import render
from dify_maintenance.storage.archive import FILES_FAMILY, FILES_TABLES, JSON_ENCODING, iter_manifests, read_part
from dify_maintenance.storage.stores import StoreConfig


def _archivable(family: str) -> frozenset[str]:
    """The tables a batch of ``family`` may hold: what that family purges, or the file rows."""
    if family == FILES_FAMILY:
        return FILES_TABLES
    if family in catalog.FAMILY_NAMES:
        return frozenset(catalog.tables_of(catalog.family(family), keep_curated=False))
    return frozenset()


def _select(manifests: list[dict], snap, recorded: dict[str, list[str]], tables: set[str] | None) -> list[tuple[dict, list]]:
    """The manifests' entries to restore, each checked against what this package archives: a
    table the batch's family purges (and, where this database recorded the run, a family that
    run purged), columns that exist, once each. A manifest naming anything else was not
    written by us, or not for this purpose: refuse the whole restore before touching a row."""
    selected: list[tuple[dict, list]] = []
    problems: list[str] = []
    for manifest in manifests:
        family = str(manifest.get("family", ""))
        run_families = recorded.get(str(manifest.get("run_key", "")))
        if run_families is not None and family != FILES_FAMILY and family not in run_families:
            problems.append(f"{manifest.get('run_key')} did not purge family {family!r}")
        entries = []
        for entry in manifest.get("tables", []):
            table, columns = entry.get("table"), entry.get("columns") or []
            if tables and table not in tables:
                continue
            if table not in _archivable(family):
                problems.append(f"{table!r} is not a table the {family!r} family archives")
            elif not snap.has_table(table):
                problems.append(f"{table} does not exist in this database")
            elif len(set(columns)) != len(columns) or not columns:
                problems.append(f"{table}: the manifest's column list is empty or repeats a column")
            elif missing := [c for c in columns if not snap.has_column(table, c)]:
                problems.append(f"{table}: archived columns {', '.join(missing)} are not in this database")
            else:
                entries.append(entry)
        if entries:
            selected.append((manifest, entries))
    if problems:
        raise ArchiveRefused("refusing to restore: " + "; ".join(sorted(set(problems))[:10]))
    return selected


def _stage(conn: psycopg.Connection, entry: dict, data: bytes) -> None:
    """An archived part into the session table ``_dm_restore``, shaped like its columns: COPY text
    as it was deleted, or one JSON object per row (parts written by the purge's batch statement)."""
    columns = list(entry["columns"])
    execute(conn, "archive/staging.sql", table=entry["table"], columns=columns)
    as_json = entry.get("encoding") == JSON_ENCODING
    if as_json:
        execute(conn, "archive/staging_json.sql")
    with conn.cursor() as cur, cur.copy(render("archive/copy_in.sql", columns=columns, as_json=as_json)) as copy:
        copy.write(data)
    if as_json:
        execute(conn, "archive/from_json.sql", columns=columns)


def restore(connector: Connector, store: StoreConfig, prefix: str, tables: set[str] | None = None) -> dict[str, dict]:
    """Reload archived rows, parents before children, skipping rows already present.

    All or nothing where it matters: every manifest is checked against the catalog and every
    selected object read back against its checksum and row count before the first insert. Each
    batch then restores in one transaction, so an interrupted restore is completed by a rerun;
    running it twice changes nothing the second time. Rows whose key Dify has since given to a
    different row are counted as conflicts, apart from rows already restored.
    """
    op = store.operator()
    manifests = list(iter_manifests(store, prefix))
    result: dict[str, dict] = {}
    with connection(connector) as conn:
        snap = snapshot(conn)
        recorded = {r["run_key"]: r["families"] for r in state.recorded_families(conn)} if state.has_runs(conn) else {}
        selection = _select(manifests, snap, recorded, tables)
        for _manifest, entries in selection:
            for entry in entries:
                read_part(op, entry)  # raises on a missing, corrupt or short object
        for _manifest, entries in selection:
            with conn.transaction():
                for entry in reversed(entries):
                    table, columns = entry["table"], list(entry["columns"])
                    keys = [c for c in snap.primary_key(table) if c in columns]
                    _stage(conn, entry, read_part(op, entry))
                    inserted = execute(conn, "archive/insert_missing.sql", table=table, columns=columns)
                    row = fetch_one(conn, "archive/conflicts.sql", table=table, columns=columns, keys=keys) if keys else None
                    conflicts = int(row["conflicts"]) if row else 0
                    execute(conn, "archive/drop_staging.sql")
                    stats = result.setdefault(table, {"archived": 0, "inserted": 0, "already_present": 0, "conflicts": 0})
                    stats["archived"] += entry["rows"]
                    stats["inserted"] += inserted
                    stats["conflicts"] += conflicts
                    stats["already_present"] += entry["rows"] - inserted - conflicts
    return result


def restore_rows(conn: psycopg.Connection, store: StoreConfig, prefix: str, table: str, key: str, keys: list[str]) -> list[str]:
    """Put back only the listed rows of ``table`` from an archived run (verify's repair of a
    parent a live write named after the purge deleted it); returns the keys put back."""
    op = store.operator()
    wanted = sorted(set(keys))
    back: list[str] = []
    for manifest in iter_manifests(store, prefix):
        for entry in manifest.get("tables", []):
            if entry.get("table") != table or len(back) == len(wanted):
                continue
            columns = list(entry["columns"])
            data = read_part(op, entry)
            with conn.transaction():
                _stage(conn, entry, data)
                back += [
                    row["key"]
                    for row in fetch_all(
                        conn, "archive/insert_listed.sql", {"keys": wanted}, table=table, columns=columns, key=key
                    )
                ]
                execute(conn, "archive/drop_staging.sql")
    return back
