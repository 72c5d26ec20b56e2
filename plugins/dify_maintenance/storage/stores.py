"""OpenDAL stores (archives, backups, later Dify's own storage), configured from an Airflow
connection or a local default folder. Options may hold secrets and are never logged.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import opendal

from dify_maintenance.core.errors import ArchiveUnavailable

_KEY_SAFE = re.compile(r"[^A-Za-z0-9._=-]+")


@dataclass(frozen=True)
class StoreConfig:
    """An OpenDAL scheme and its options. Options may hold secrets: never log them."""

    scheme: str
    options: dict[str, str] = field(default_factory=dict, repr=False)
    prefix: str = ""

    def describe(self) -> str:
        where = self.options.get("root") or self.options.get("bucket") or self.options.get("container") or ""
        return f"{self.scheme}:{where}" if where else self.scheme

    def operator(self) -> opendal.Operator:
        try:
            return opendal.Operator(self.scheme, **self.options)
        except Exception as exc:
            raise ArchiveUnavailable(f"archive store {self.describe()} cannot be opened: {type(exc).__name__}") from exc


def local_store(env_var: str, folder: str) -> StoreConfig:
    """A folder on the worker: ``$env_var`` or ``$AIRFLOW_HOME/<folder>``."""
    root = os.environ.get(env_var) or os.path.join(os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow")), folder)
    return StoreConfig("fs", {"root": root})


def default_store() -> StoreConfig:
    """Where archives go when no archive connection is defined."""
    return local_store("DIFY_MAINT_ARCHIVE_ROOT", "dify-archive")


def default_backup_store() -> StoreConfig:
    """Where backups go when no backup-store connection is defined."""
    return local_store("DIFY_MAINT_BACKUP_ROOT", "dify-backups")


def key_part(value: str) -> str:
    """A run id or name made safe for every object store's key rules."""
    return _KEY_SAFE.sub("_", value).strip("_") or "_"


def check_store(store: StoreConfig) -> str:
    """Write, read back and delete a probe object; the purge must not start otherwise."""
    op = store.operator()
    probe = f"{store.prefix}_probe/{uuid.uuid4().hex}"
    payload = os.urandom(64)
    try:
        op.write(probe, payload)
        back = op.read(probe)
        op.delete(probe)
    except Exception as exc:
        raise ArchiveUnavailable(
            f"archive store {store.describe()} is not writable and readable ({type(exc).__name__}: {exc}); "
            "no row was deleted. Fix the store or run with archive off explicitly."
        ) from exc
    if bytes(back) != payload:
        raise ArchiveUnavailable(f"archive store {store.describe()} returned different bytes than written")
    return store.describe()


def stat_or_none(op: opendal.Operator, key: str) -> opendal.types.Metadata | None:
    """An object's metadata, or None when there is no such object (every other error propagates)."""
    try:
        return op.stat(key)
    except opendal.exceptions.NotFound:
        return None


def list_entries(store: StoreConfig, prefix: str) -> Iterator[tuple[str, int, datetime | None]]:
    """Stream (key, size, last modified) of every object under ``prefix``, recursively; keys are
    relative to the store's prefix, directories are skipped and nothing is held in memory."""
    op = store.operator()
    base = store.prefix
    try:
        entries = op.list(base + prefix, recursive=True)
    except opendal.exceptions.NotFound:
        return
    for entry in entries:
        meta = entry.metadata
        if meta.is_dir or entry.path.endswith("/"):
            continue
        yield entry.path[len(base) :], int(meta.content_length), meta.last_modified
