"""What the database names against what a storage holds: the files Dify's rows point at that are
missing (or have another size) in a storage listing. Keys are streamed into a temporary table
with COPY and anti-joined in SQL, so millions of keys need no Python memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from dify_maintenance.core.db import Connector, connection, execute, fetch_all, fetch_one
from dify_maintenance.core.schema import detect_version, snapshot
from dify_maintenance.core.sqltemplates import render
from dify_maintenance.storage.stores import StoreConfig, list_entries

log = logging.getLogger(__name__)

REPORT_LIMIT = 1000


def load_listing(conn, store: StoreConfig, prefixes: list[str], skip: Callable[[str], bool] | None = None) -> tuple[int, int]:
    """Stream the store's listing under ``prefixes`` into the session table ``dm_listed_keys``
    (COPY, nothing held in memory); returns (objects, bytes) loaded. Keys ``skip`` approves are left out."""
    execute(conn, "files/listed_keys.sql")
    objects = total = 0
    with conn.cursor() as cur, cur.copy(render("files/copy_listed_keys.sql")) as copy:
        for prefix in prefixes:
            for key, size, modified in list_entries(store, prefix):
                if skip is not None and skip(key):
                    continue
                copy.write_row((key, size, modified))
                objects += 1
                total += size
    return objects, total


def named_but_missing(connector: Connector, store: StoreConfig, prefixes: list[str], limit: int = REPORT_LIMIT) -> dict:
    with connection(connector) as conn:
        snap = snapshot(conn)
        detect_version(conn, snap)
        has_tool_files = snap.has_table("tool_files")
        with conn.transaction():
            listed, _ = load_listing(conn, store, prefixes)
            rows = fetch_all(conn, "files/named_but_missing.sql", {"limit": limit}, has_tool_files=has_tool_files)
            counts = fetch_one(conn, "files/named_counts.sql", has_tool_files=has_tool_files)
    missing = [r for r in rows if r["stored_size"] is None]
    wrong_size = [r for r in rows if r["stored_size"] is not None]
    result = {
        "listed_objects": listed,
        "named_by_database": {k: int(v) for k, v in counts.items()},
        "missing": [{"table": r["source"], "key": r["key"]} for r in missing],
        "wrong_size": [{"key": r["key"], "recorded": r["recorded_size"], "stored": r["stored_size"]} for r in wrong_size],
        "truncated": len(rows) >= limit,
    }
    log.info(
        "database names %s files; %d missing from the storage, %d with another size",
        result["named_by_database"],
        len(missing),
        len(wrong_size),
    )
    return result


def hash_mismatches(connector: Connector, sha3: dict[str, str], chunk: int = 10_000) -> list[dict]:
    """Copied objects whose sha3-256 is not the one Dify recorded in ``upload_files.hash``: the
    copy matches the source, but the source no longer holds what was uploaded."""
    items = [(k, v) for k, v in sha3.items() if v]
    found: list[dict] = []
    with connection(connector) as conn:
        for start in range(0, len(items), chunk):
            part = items[start : start + chunk]
            params = {"keys": [k for k, _ in part], "hashes": [v for _, v in part]}
            found += fetch_all(conn, "files/hash_mismatches.sql", params)
    if found:
        log.warning("%d copied uploads differ from the hash Dify recorded at upload", len(found))
    return found


def set_storage_type(connector: Connector, storage_type: str, batch: int = 5000) -> int:
    """Record the new backend on every upload row, in short batches."""
    total = 0
    with connection(connector) as conn:
        while True:
            with conn.transaction():
                n = execute(conn, "files/set_storage_type.sql", {"storage_type": storage_type, "batch": batch})
            total += n
            if n < batch:
                return total
