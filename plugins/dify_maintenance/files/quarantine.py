"""Quarantine: orphaned objects are moved, never deleted, inside Dify's own storage.

A quarantine lives under ``_dify_maintenance/quarantine/<id>/`` (outside every Dify prefix, so
Dify never sees it and no listing of ours includes it): ``quarantine.json`` says when and by which
run, ``manifest/<batch>.jsonl`` lists every object of a batch and is written *before* the batch
moves anything, and ``objects/<original key>`` holds the objects. Restoring moves each object
back; a later run deletes quarantines older than the retention the operator chose.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import opendal

from dify_maintenance.core.errors import MaintenanceError
from dify_maintenance.storage.dify_storage import is_protected
from dify_maintenance.storage.stores import StoreConfig, key_part, stat_or_none

log = logging.getLogger(__name__)


ROOT = "_dify_maintenance/quarantine/"
INFO = "quarantine.json"


class QuarantineError(MaintenanceError):
    """A quarantine is missing, incomplete or would overwrite something."""


def quarantine_id(run_key: str) -> str:
    return key_part(run_key.replace("/", "__"))


def folder(store: StoreConfig, qid: str) -> str:
    return f"{store.prefix}{ROOT}{qid}/"


def _move(op: opendal.Operator, source: str, target: str) -> None:
    """Rename where the backend can (fs: atomic), else a server-side copy checked by size, then delete."""
    capability = op.capability()
    if capability.rename:
        op.rename(source, target)
        return
    size = op.stat(source).content_length
    if capability.copy:
        op.copy(source, target)
    else:
        op.write(target, bytes(op.read(source)))
    if op.stat(target).content_length != size:
        raise QuarantineError(f"copy of {source} into quarantine has the wrong size; the original was left in place")
    op.delete(source)


class Quarantine:
    """One run's quarantine in one store."""

    def __init__(self, store: StoreConfig, qid: str) -> None:
        self.store = store
        self.qid = qid
        self.op = store.operator()
        self.base = folder(store, qid)

    def open(self, info: dict) -> None:
        """Record who quarantined and when (kept from the first try on a retry)."""
        if stat_or_none(self.op, self.base + INFO) is None:
            self.op.write(self.base + INFO, json.dumps({"created_at": datetime.now(UTC).isoformat(), **info}, indent=1).encode())

    def move_batch(self, batch: int, items: list[dict], modified_before: datetime) -> list[str]:
        """Move each item's object (``key``) into quarantine; returns one outcome per item.

        The manifest is written first, so nothing is ever moved without being listed. An object
        already moved by an earlier try counts as quarantined; one modified since the run fixed
        its grace cutoff, or a protected key, stays where it is."""
        lines = "".join(json.dumps(item) + "\n" for item in items)
        self.op.write(f"{self.base}manifest/{batch:08d}.jsonl", lines.encode())
        outcomes = []
        for item in items:
            key = item["key"]
            source, target = self.store.prefix + key, f"{self.base}objects/{key}"
            if is_protected(key):
                outcomes.append("kept: protected key")
                continue
            meta = stat_or_none(self.op, source)
            if meta is None:
                outcomes.append("quarantined" if stat_or_none(self.op, target) is not None else "absent")
                continue
            if meta.last_modified is not None and meta.last_modified >= modified_before:
                outcomes.append("kept: modified during the run")
                continue
            _move(self.op, source, target)
            outcomes.append("quarantined")
        return outcomes

    def entries(self) -> Iterator[dict]:
        try:
            manifests = sorted(e.path for e in self.op.list(self.base + "manifest/") if e.path.endswith(".jsonl"))
        except Exception as exc:
            raise QuarantineError(f"quarantine {self.qid} not found in {self.store.describe()}") from exc
        for path in manifests:
            for line in bytes(self.op.read(path)).decode().splitlines():
                if line.strip():
                    yield json.loads(line)

    def info(self) -> dict:
        meta = stat_or_none(self.op, self.base + INFO)
        if meta is None:
            raise QuarantineError(f"quarantine {self.qid} not found in {self.store.describe()}")
        return json.loads(bytes(self.op.read(self.base + INFO)))

    def restore(self) -> dict[str, int]:
        """Move every quarantined object back to its key. An object present at its key again is
        left alone (the quarantined copy stays, reported as a conflict); running twice is harmless."""
        self.info()
        counts = {"restored": 0, "already_back": 0, "conflict": 0, "never_moved": 0}
        for item in self.entries():
            key = item["key"]
            source, target = f"{self.base}objects/{key}", self.store.prefix + key
            held = stat_or_none(self.op, source)
            present = stat_or_none(self.op, target)
            if held is None:
                counts["already_back" if present is not None else "never_moved"] += 1
            elif present is None:
                _move(self.op, source, target)
                counts["restored"] += 1
            else:
                counts["conflict"] += 1
                log.warning("not restoring %s: an object is at that key again; the quarantined copy stays", key)
        return counts


def expired(store: StoreConfig, older_than_days: int, now: datetime | None = None) -> list[dict]:
    """Quarantines created more than ``older_than_days`` ago."""
    op = store.operator()
    limit = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
    found = []
    try:
        folders = [e.path for e in op.list(store.prefix + ROOT) if e.path.endswith("/") and e.path != store.prefix + ROOT]
    except opendal.exceptions.NotFound:
        return []
    for path in sorted(folders):
        qid = path.rstrip("/").rsplit("/", 1)[-1]
        try:
            info = Quarantine(store, qid).info()
        except QuarantineError:
            continue  # a folder without its info file is not ours to delete
        if datetime.fromisoformat(info["created_at"]) < limit:
            found.append({"quarantine_id": qid, **info})
    return found


def empty(store: StoreConfig, older_than_days: int, now: datetime | None = None) -> list[dict]:
    """Delete quarantines older than ``older_than_days`` for good; returns what was deleted."""
    op = store.operator()
    gone = []
    for item in expired(store, older_than_days, now):
        objects = sum(1 for _ in Quarantine(store, item["quarantine_id"]).entries())
        op.remove_all(folder(store, item["quarantine_id"]))
        gone.append({"quarantine_id": item["quarantine_id"], "created_at": item["created_at"], "listed_objects": objects})
        log.info("emptied quarantine %s (created %s)", item["quarantine_id"], item["created_at"])
    return gone
