"""Copy Dify's objects from one OpenDAL store to another: inventory, sharded parallel copies,
verification, resumable from a manifest kept in the target.

Inventory and progress live next to the data in the target under ``_dify_maintenance/``
(outside every Dify prefix): shard files of ``key, size`` lines, and per shard "verified" files
listing what was copied and checked (size and sha256). A rerun after a crash or an outage reads
them and copies only what is missing, different or unverified; a delta pass before the cut-over
is the same run again (optionally only objects modified since a moment).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

import opendal

from dify_maintenance.core.errors import MaintenanceError
from dify_maintenance.files.forms import OVERWRITE, VERIFY
from dify_maintenance.storage.stores import StoreConfig, list_entries

log = logging.getLogger(__name__)

CHUNK = 8 * 1024 * 1024
STATE_ROOT = "_dify_maintenance/migrations/"

_MANIFEST_EVERY = 500


class MigrationFailed(MaintenanceError):
    """Some objects could not be copied or verified; a rerun retries exactly those."""

    retryable = True


def migration_id(source: StoreConfig, target: StoreConfig) -> str:
    """Stable per (source, target) pair, so a rerun finds the previous run's progress."""
    return hashlib.sha256(f"{source.scheme}|{source.describe()}|{target.scheme}|{target.describe()}".encode()).hexdigest()[:16]


def _state(target: StoreConfig, mig_id: str) -> str:
    return f"{target.prefix}{STATE_ROOT}{mig_id}/"


def list_objects(store: StoreConfig, prefix: str, modified_since: datetime | None = None) -> Iterator[tuple[str, int]]:
    """Stream (key, size) under ``prefix``; directories skipped, nothing held in memory."""
    for key, size, modified in list_entries(store, prefix):
        if modified_since is not None and modified is not None and modified < modified_since:
            continue
        yield key, size


def shard_of(key: str, shards: int) -> int:
    return zlib.crc32(key.encode()) % shards


def inventory(
    source: StoreConfig, target: StoreConfig, prefixes: list[str], shards: int, modified_since: datetime | None = None
) -> dict:
    """List the source once, streaming, into shard files in the target's state folder."""
    mig_id = migration_id(source, target)
    buffers: list[list[str]] = [[] for _ in range(shards)]
    objects = total = 0
    for prefix in prefixes:
        for key, size in list_objects(source, prefix, modified_since):
            buffers[shard_of(key, shards)].append(json.dumps([key, size]))
            objects += 1
            total += size
    op = target.operator()
    for n, lines in enumerate(buffers):
        op.write(f"{_state(target, mig_id)}inventory/{n:04d}.jsonl", ("\n".join(lines) + "\n" if lines else "").encode())
    log.info("inventory %s: %d objects, %.1f MB in %d shards", mig_id, objects, total / 1e6, shards)
    return {"migration_id": mig_id, "objects": objects, "bytes": total, "shards": list(range(shards)), "prefixes": prefixes}


def _read_lines(store: StoreConfig, key: str) -> list:
    try:
        data = bytes(store.operator().read(key))
    except Exception as exc:
        raise MigrationFailed(
            f"cannot read {key} from {store.describe()} ({type(exc).__name__}); is the target reachable?"
        ) from exc
    return [json.loads(line) for line in data.decode().splitlines() if line.strip()]


def verified_before(target: StoreConfig, mig_id: str, shard: int) -> dict[str, tuple[int, str]]:
    op = target.operator()
    folder = f"{_state(target, mig_id)}verified/{shard:04d}/"
    done: dict[str, tuple[int, str]] = {}
    try:
        entries = [e.path for e in op.list(folder) if not e.path.endswith("/")]
    except opendal.exceptions.NotFound:
        return done
    except Exception as exc:
        raise MigrationFailed(f"cannot list the progress of shard {shard} in {target.describe()} ({type(exc).__name__})") from exc
    for path in sorted(entries):
        for key, size, digest in _read_lines(target, path):
            done[key] = (size, digest)
    return done


def _digest(op: opendal.Operator, key: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with op.open(key, "rb") as src:
        while chunk := src.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _copy(sop: opendal.Operator, top: opendal.Operator, source_key: str, target_key: str) -> tuple[int, str, str]:
    """Stream one object (bounded memory); returns size, sha256 and sha3-256 of what was read."""
    sha, sha3 = hashlib.sha256(), hashlib.sha3_256()
    size = 0
    with sop.open(source_key, "rb") as src, top.open(target_key, "wb") as dst:
        while chunk := src.read(CHUNK):
            sha.update(chunk)
            sha3.update(chunk)
            size += len(chunk)
            dst.write(chunk)
    return size, sha.hexdigest(), sha3.hexdigest()


@dataclass
class ShardResult:
    shard: int
    copied: int = 0
    copied_bytes: int = 0
    skipped: int = 0
    verified: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    sha3: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def copy_shard(
    source: StoreConfig,
    target: StoreConfig,
    mig_id: str,
    shard: int,
    *,
    concurrency: int = 8,
    overwrite: str = "if_different",
    verify: str = "checksum",
    trust_manifest: bool = True,
    dry_run: bool = False,
) -> dict:
    """Copy one shard's objects in parallel, verify each against the source, record progress.

    ``trust_manifest=False`` is the verification pass before a cut-over: every object already in
    the target is compared with the source again, and one that differs is copied again."""
    if overwrite not in OVERWRITE or verify not in VERIFY:
        raise MaintenanceError(f"overwrite must be one of {OVERWRITE} and verify one of {VERIFY}")
    started = time.monotonic()
    todo = [tuple(line) for line in _read_lines(target, f"{_state(target, mig_id)}inventory/{shard:04d}.jsonl")]
    done = verified_before(target, mig_id, shard)
    result = ShardResult(shard)
    sop, top = source.operator(), target.operator()  # one pair per shard, shared by the copy threads
    pending: list[list] = []
    repaired: list[str] = []
    batch = [0]

    def flush() -> None:
        if pending and not dry_run:
            body = "\n".join(json.dumps(line) for line in pending) + "\n"
            top.write(
                f"{_state(target, mig_id)}verified/{shard:04d}/{int(time.time() * 1000)}-{batch[0]:05d}.jsonl", body.encode()
            )
            batch[0] += 1
            pending.clear()

    def one(item: tuple[str, int]) -> tuple[str, str, int, str | None, str | None]:
        key, size = item
        try:
            present = top.stat(target.prefix + key).content_length
        except Exception:
            present = None
        if present is not None:
            if overwrite == "never":
                return key, "skipped", size, None, None
            if overwrite == "if_different" and present == size:
                if trust_manifest and key in done and done[key][0] == size:
                    return key, "skipped", size, done[key][1], None
                if verify == "size" or _digest(sop, source.prefix + key)[1] == _digest(top, target.prefix + key)[1]:
                    return key, "verified", size, None, None
                repaired.append(key)
        if dry_run:
            return key, "would_copy", size, None, None
        copied_size, sha, sha3 = _copy(sop, top, source.prefix + key, target.prefix + key)
        if copied_size != size:
            return key, "failed", size, None, f"source changed while copying ({size} -> {copied_size} bytes)"
        # the read-back gives the stored size too, so checksum verification needs no extra stat
        stored, stored_sha = (
            _digest(top, target.prefix + key) if verify == "checksum" else (top.stat(target.prefix + key).content_length, sha)
        )
        if stored != size:
            return key, "failed", size, None, f"target holds {stored} bytes, source {size}"
        if stored_sha != sha:
            return key, "failed", size, None, "target content differs from the source (sha256)"
        return key, "copied", size, sha, sha3

    with ThreadPoolExecutor(max(1, concurrency), thread_name_prefix=f"copy-{shard}") as pool:
        for key, outcome, size, sha, extra in pool.map(lambda item: _guard(one, item), todo):
            if outcome == "failed":
                result.failed[key] = extra or "unknown error"
                continue
            if outcome == "copied":
                result.copied += 1
                result.copied_bytes += size
                result.sha3[key] = extra or ""
            elif outcome == "would_copy":
                result.copied += 1
                result.copied_bytes += size
                continue
            elif outcome == "verified":
                result.verified += 1
            else:
                result.skipped += 1
                continue
            pending.append([key, size, sha or ""])
            if len(pending) >= _MANIFEST_EVERY:
                flush()
    flush()
    result.seconds = round(time.monotonic() - started, 3)
    out = {k: v for k, v in result.__dict__.items() if k != "sha3"}
    out["repaired"] = sorted(repaired)
    out["sha3"] = result.sha3
    log.info(
        "shard %d: copied %d (%.1f MB), verified in place %d, skipped %d, failed %d in %.1f s",
        shard,
        result.copied,
        result.copied_bytes / 1e6,
        result.verified,
        result.skipped,
        len(result.failed),
        result.seconds,
    )
    return out


def _guard(fn, item):
    try:
        return fn(item)
    except Exception as exc:  # one object's failure must not hide the others' results
        return item[0], "failed", item[1], None, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def run_report(inv: dict, copies: list[dict], checked: dict, updated: dict | None) -> tuple[dict, list[str]]:
    """The run's report and its lines, from what each step returned: complete only when every
    shard was copied and the database step ran."""
    totals = {k: sum(c[k] for c in copies) for k in ("copied", "copied_bytes", "skipped", "verified")}
    totals["repaired"] = sum(len(c["repaired"]) for c in copies)
    lines = [
        f"migration {inv.get('migration_id', '?')}" + ("  DRY RUN" if inv.get("dry_run") else ""),
        f"source inventory: {inv.get('objects', 0)} objects, {inv.get('bytes', 0) / 1e6:.1f} MB",
        f"copied {totals['copied']} ({totals['copied_bytes'] / 1e6:.1f} MB), already verified {totals['skipped']}, "
        f"verified in place {totals['verified']}, repaired {totals['repaired']}",
        f"shards done {len(copies)} of {len(inv.get('shards', []))}",
    ]
    if checked.get("missing") is not None:
        lines.append(f"files named by the database but missing from the source: {len(checked['missing'])}")
        lines.extend(f"  missing {m['table']}: {m['key']}" for m in checked["missing"][:20])
        lines.append(f"uploads whose size differs from the stored object: {len(checked['wrong_size'])}")
    mismatched = [m for c in copies for m in c.get("hash_mismatch", [])]
    mismatch_count = sum(c.get("hash_mismatch_count", 0) for c in copies)
    if mismatch_count:
        lines.append(f"copied uploads whose content differs from upload_files.hash: {mismatch_count}")
        lines.extend(f"  hash differs: {m['key']}" for m in mismatched[:20])
    if updated:
        lines.append(f"upload_files.storage_type updated on {updated['updated']} rows")
    complete = bool(inv) and updated is not None and len(copies) == len(inv.get("shards", []))
    rep = {
        "outcome": "success" if complete else "failed",
        **totals,
        "migration_id": inv.get("migration_id"),
        "missing": len(checked.get("missing") or []),
        "hash_mismatch": mismatch_count,
        "hash_mismatch_keys": [m["key"] for m in mismatched[:100]],
        "dry_run": bool(inv.get("dry_run")),
    }
    if not complete:
        lines.append("did not complete: a rerun resumes from the manifest")
    return rep, lines
