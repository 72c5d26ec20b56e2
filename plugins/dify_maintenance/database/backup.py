"""Backups of the Dify database: ``pg_dump`` in directory format with parallel jobs, a manifest
with every file's sha256, storage through OpenDAL, verification, rotation.

A destructive run starts only after a backup passed verification (the gate). The dump runs in a
snapshot we export ourselves, so the exact row counts a restore check compares against are taken
in the very snapshot the dump saw, not in a database that kept changing meanwhile.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

import psycopg

from dify_maintenance.core import catalog
from dify_maintenance.core.db import DbTarget, connection, execute, fetch_all, fetch_one
from dify_maintenance.core.errors import MaintenanceError
from dify_maintenance.core.schema import detect_version, snapshot
from dify_maintenance.database import pgclient
from dify_maintenance.database.forms import BACKUP_FORM, COMPRESSIONS, SCOPES
from dify_maintenance.storage.stores import StoreConfig, check_store, key_part

log = logging.getLogger(__name__)

MANIFEST_FORMAT = "dify-maintenance-backup/1"
MANIFEST = "manifest.json"
VERIFICATION = "verification.json"
_CHUNK = 4 * 1024 * 1024
_UPLOAD_THREADS = 4


class BackupFailed(MaintenanceError):
    """The backup could not be written, stored or verified; nothing downstream may delete."""


@dataclass(frozen=True)
class BackupRequest:
    """What to back up and how. ``tables`` only with scope "tables"."""

    scope: str = BACKUP_FORM.field("scope").default
    tables: tuple[str, ...] = ()
    jobs: int = BACKUP_FORM.field("jobs").default
    compression: str = BACKUP_FORM.field("compression").default
    exact_counts: bool = BACKUP_FORM.field("restore_check").default

    def validate(self) -> None:
        errors = []
        if self.scope not in SCOPES:
            errors.append(f"backup scope must be one of {', '.join(SCOPES)}, got {self.scope!r}")
        if self.scope == "tables" and not self.tables:
            errors.append("backup scope 'tables' needs at least one table")
        if self.scope != "tables" and self.tables:
            errors.append("backup tables are only used with scope 'tables'")
        jobs = BACKUP_FORM.field("jobs")
        if not jobs.minimum <= self.jobs <= jobs.maximum:
            errors.append(f"backup jobs must be between {jobs.minimum} and {jobs.maximum}, got {self.jobs}")
        if self.compression not in COMPRESSIONS:
            errors.append(f"backup compression must be one of {', '.join(COMPRESSIONS)}, got {self.compression!r}")
        if errors:
            raise MaintenanceError("invalid backup request: " + "; ".join(errors))


def log_tables(present: set[str]) -> list[str]:
    """The big log tables whose data scope "no_log_data" leaves out (their schema stays)."""
    tables = catalog.tables_of(catalog.family("workflow_logs")) + catalog.tables_of(catalog.family("messages"))
    return sorted({t for t in tables if t in present})


def backup_prefix(store: StoreConfig, dbname: str) -> str:
    return f"{store.prefix}backups/{key_part(dbname)}/"


def new_backup_id(now: datetime | None = None) -> str:
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


# ---------------------------------------------------------------- compression


def choose_compression(client: pgclient.Client, requested: str) -> str:
    """The ``--compress`` value for this ``pg_dump``: what was asked, or for "auto" the best it
    supports (zstd, then lz4, then gzip level 1: speed matters more than ratio for a pre-upgrade
    backup). Support is probed, because it depends on how the client was built, not its version."""
    if requested == "none":
        return "0"
    wanted = ("zstd", "lz4", "gzip") if requested == "auto" else (requested,)
    for method in wanted:
        spec = {"zstd": "zstd:3", "lz4": "lz4:1", "gzip": "gzip:1"}[method]
        if _supports(client, spec):
            return spec
        if method == "gzip" and _supports(client, "1"):
            return "1"  # pg_dump <= 15 knows only gzip levels
    raise BackupFailed(f"{client.describe()} does not support {requested} compression; choose another or 'none'")


@lru_cache(maxsize=64)
def _supports(client: pgclient.Client, spec: str) -> bool:
    """pg_dump checks --compress before connecting; point it at no server and read the error."""
    probe_dir = tempfile.mkdtemp(prefix="dm-probe-")
    try:
        pgclient.run(
            client,
            ["--format=directory", f"--compress={spec}", f"--file={probe_dir}/x"],
            DbTarget({"host": os.path.join(probe_dir, "no-server"), "connect_timeout": 1}),
            timeout=30,
        )
    except pgclient.ClientFailed as exc:
        return "compress" not in str(exc).lower()
    finally:
        shutil.rmtree(probe_dir, ignore_errors=True)
    return True


# ---------------------------------------------------------------- files


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _upload(store: StoreConfig, local: Path, key: str) -> None:
    op = store.operator()
    with open(local, "rb") as src, op.open(key, "wb") as dst:
        for chunk in iter(lambda: src.read(_CHUNK), b""):
            dst.write(chunk)


def _download(store: StoreConfig, key: str, local: Path) -> str:
    """Stream one object to disk (bounded memory) and return its sha256."""
    op = store.operator()
    digest = hashlib.sha256()
    local.parent.mkdir(parents=True, exist_ok=True)
    with op.open(key, "rb") as src, open(local, "wb") as dst:
        while True:
            chunk = src.read(_CHUNK)
            if not chunk:
                break
            digest.update(chunk)
            dst.write(chunk)
    return digest.hexdigest()


def read_json(store: StoreConfig, key: str) -> dict | None:
    op = store.operator()
    try:
        return json.loads(bytes(op.read(key)))
    except Exception:
        return None


# ---------------------------------------------------------------- readiness


def _free_bytes(path: Path) -> int | None:
    """Free bytes on the disk that holds ``path`` (or the folder it will be created in)."""
    for folder in (path, *path.parents):
        if folder.exists():
            try:
                return shutil.disk_usage(folder).free
            except OSError:
                return None
    return None


def readiness(target: DbTarget, store: StoreConfig, request: BackupRequest, *, work_dir: Path | None = None) -> dict:
    """What a backup will need, checked before anything starts (a dry run too, so it never says
    "fine" about a run that would fail at its backup): pg_dump and pg_restore for the server's
    major version, a store that takes, gives back and deletes a probe object, and room for the
    dump where that can be known (the local work folder; the store when it is a folder).
    Raises with what to fix; returns what it found."""
    request.validate()
    with connection(target) as conn:
        major = int(fetch_one(conn, "introspect/server.sql")["server_version_num"]) // 10000
        sizes = {r["table_name"]: int(r["data_bytes"]) for r in fetch_all(conn, "backup/data_bytes.sql")}
    if request.scope == "tables":
        in_scope = set(request.tables)
    elif request.scope == "no_log_data":
        in_scope = set(sizes) - set(log_tables(set(sizes)))
    else:
        in_scope = set(sizes)
    needed = sum(sizes.get(t, 0) for t in in_scope)
    clients = {program: pgclient.find(program, major) for program in ("pg_dump", "pg_restore")}
    stored = check_store(store)
    room = {"work folder": Path(work_dir or tempfile.gettempdir())}
    if store.scheme == "fs":
        room["backup store"] = Path(store.options.get("root", "/"))
    free = {where: _free_bytes(path) for where, path in room.items()}
    short = [
        f"the {where} ({room[where]}) has {have / 1e6:,.0f} MB free, the dump may need up to {needed / 1e6:,.0f} MB"
        for where, have in free.items()
        if have is not None and have < needed
    ]
    if short:
        raise BackupFailed("not enough room for the backup: " + "; ".join(short) + ". Free space, or choose a smaller scope.")
    return {
        "pg_dump": clients["pg_dump"].describe(),
        "pg_restore": clients["pg_restore"].describe(),
        "store": stored,
        "data_bytes_in_scope": needed,
        "free_bytes": {where: have for where, have in free.items()},
        "free_space_unknown": [] if store.scheme == "fs" else [f"{store.scheme} store"],
    }


# ---------------------------------------------------------------- create


def _table_facts(conn, tables: list[str]) -> dict[str, dict]:
    rows = fetch_all(conn, "introspect/table_sizes.sql", {"tables": tables})
    return {r["table_name"]: {"rows_estimate": int(r["row_estimate"]), "bytes": int(r["total_bytes"])} for r in rows}


def _dump_args(request: BackupRequest, compression: str, out_dir: Path, snapshot_id: str, present: set[str]) -> list[str]:
    args = [
        "--format=directory",
        f"--jobs={request.jobs}",
        f"--compress={compression}",
        f"--file={out_dir}",
        f"--snapshot={snapshot_id}",
        "--no-password",
    ]
    if request.scope == "no_log_data":
        args += [f"--exclude-table-data=public.{t}" for t in log_tables(present)]
    elif request.scope == "tables":
        args += [f"--table=public.{t}" for t in request.tables]
    return args


def create(
    target: DbTarget, store: StoreConfig, request: BackupRequest, *, work_dir: Path | None = None, backup_id: str | None = None
) -> dict:
    """Dump, hash, store; returns the manifest (also stored next to the files, written last)."""
    request.validate()
    backup_id = backup_id or new_backup_id()
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="dm-backup-", dir=work_dir))
    out_dir = work / "dump"
    try:
        with connection(target) as conn:
            snap = snapshot(conn)
            version = detect_version(conn, snap, allow_unknown=True)  # a backup deletes nothing
            present = set(snap.columns)
            unknown = sorted(set(request.tables) - present)
            if unknown:
                raise MaintenanceError(f"backup tables not in the database: {', '.join(unknown)}")
            server = fetch_one(conn, "introspect/server.sql")
            client = pgclient.find("pg_dump", int(server["server_version_num"]) // 10000)
            compression = choose_compression(client, request.compression)
            conn.autocommit = False
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            snapshot_id = fetch_one(conn, "backup/export_snapshot.sql")["snapshot"]
            dumped = sorted(request.tables) if request.scope == "tables" else sorted(present)
            excluded = set(log_tables(present)) if request.scope == "no_log_data" else set()
            data_tables = [t for t in dumped if t not in excluded]
            facts = _table_facts(conn, dumped)
            failure: list[BaseException] = []
            args = _dump_args(request, compression, out_dir, snapshot_id, present)
            dumper = threading.Thread(target=_run_guarded, args=(client, args, target, failure), name="pg_dump")
            dumper.start()
            if request.exact_counts:
                # Counted in the exported snapshot while pg_dump reads it: the numbers a restore must reproduce.
                for table in data_tables:
                    facts[table]["rows"] = int(fetch_one(conn, "introspect/count_rows.sql", table=table)["rows"])
            dumper.join()
            conn.rollback()
        if failure:
            raise BackupFailed(f"pg_dump failed, no backup was stored: {failure[0]}") from failure[0]
        files = []
        for path in sorted(p for p in out_dir.rglob("*") if p.is_file()):
            files.append({"name": path.relative_to(out_dir).as_posix(), "bytes": path.stat().st_size, "sha256": sha256_of(path)})
        if not any(f["name"] == "toc.dat" for f in files):
            raise BackupFailed("pg_dump finished but wrote no toc.dat; the backup is unusable")
        prefix = backup_prefix(store, target.dbname) + backup_id + "/"
        try:
            with ThreadPoolExecutor(_UPLOAD_THREADS, thread_name_prefix="backup-upload") as pool:
                list(pool.map(lambda f: _upload(store, out_dir / f["name"], prefix + "dump/" + f["name"]), files))
        except Exception as exc:
            raise BackupFailed(f"storing the backup in {store.describe()} failed ({type(exc).__name__}: {exc})") from exc
        manifest = {
            "format": MANIFEST_FORMAT,
            "backup_id": backup_id,
            "database": target.dbname,
            "created_at": datetime.now(UTC).isoformat(),
            "duration_seconds": round(time.monotonic() - started, 2),
            "server_version": server["server_version"],
            "server_version_num": int(server["server_version_num"]),
            "dify_version": version.version,
            "alembic_head": version.revision,
            "pg_dump": client.describe(),
            "format_options": {"format": "directory", "jobs": request.jobs, "compression": compression},
            "scope": request.scope,
            "data_excluded": sorted(set(dumped) - set(data_tables)),
            "tables": facts,
            "exact_counts": request.exact_counts,
            "files": files,
            "total_bytes": sum(f["bytes"] for f in files),
            "store": store.describe(),
            "prefix": prefix,
        }
        store.operator().write(prefix + MANIFEST, json.dumps(manifest, indent=1).encode())
        log.info(
            "backup %s: %d files, %.1f MB, %s, %.1f s",
            backup_id,
            len(files),
            manifest["total_bytes"] / 1e6,
            compression,
            manifest["duration_seconds"],
        )
        return manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_guarded(client: pgclient.Client, args: list[str], target: DbTarget, failure: list[BaseException]) -> None:
    try:
        pgclient.run(client, args, target)
    except BaseException as exc:  # handed to the main thread
        failure.append(exc)


# ---------------------------------------------------------------- verify


def verify(
    target: DbTarget,
    store: StoreConfig,
    backup_id: str,
    *,
    restore_check: bool = False,
    restore_target: DbTarget | None = None,
    work_dir: Path | None = None,
) -> dict:
    """Read the stored backup back: every file against its sha256, the TOC through ``pg_restore
    --list``, and optionally a full restore into a scratch database with row counts compared.
    Writes ``verification.json`` next to the manifest; raises BackupFailed on any mismatch."""
    prefix = backup_prefix(store, target.dbname) + backup_id + "/"
    manifest = read_json(store, prefix + MANIFEST)
    if manifest is None:
        raise BackupFailed(f"backup {backup_id} has no readable manifest in {store.describe()}; it cannot be trusted")
    started = time.monotonic()
    problems: list[str] = []
    checks: dict[str, object] = {}
    work = Path(tempfile.mkdtemp(prefix="dm-verify-", dir=work_dir))
    try:
        local = work / "dump"
        for entry in manifest["files"]:
            try:
                digest = _download(store, prefix + "dump/" + entry["name"], local / entry["name"])
            except Exception as exc:
                problems.append(f"{entry['name']}: cannot be read back ({type(exc).__name__})")
                continue
            if digest != entry["sha256"]:
                problems.append(f"{entry['name']}: sha256 differs from the manifest")
        checks["files"] = f"{len(manifest['files'])} files, sha256 {'ok' if not problems else 'MISMATCH'}"
        if not problems:
            client = pgclient.find("pg_restore", int(manifest["server_version_num"]) // 10000)
            toc = pgclient.run(client, ["--list", str(local)], None, timeout=600)
            data_entries = [line for line in toc.splitlines() if " TABLE DATA " in line]
            checks["toc_entries"] = sum(1 for line in toc.splitlines() if line and not line.startswith(";"))
            checks["table_data_entries"] = len(data_entries)
            expected = len(manifest["tables"]) - len(manifest["data_excluded"])
            if len(data_entries) < expected:
                problems.append(f"pg_restore --list shows {len(data_entries)} TABLE DATA entries, expected {expected}")
            if restore_check and not problems:
                checks["restore"] = _restore_check(target, restore_target or target, client, local, manifest, problems)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "backup_id": backup_id,
        "verified_at": datetime.now(UTC).isoformat(),
        "ok": not problems,
        "problems": problems,
        "checks": checks,
        "restore_check": restore_check,
        "duration_seconds": round(time.monotonic() - started, 2),
    }
    store.operator().write(prefix + VERIFICATION, json.dumps(result, indent=1).encode())
    if problems:
        raise BackupFailed(f"backup {backup_id} failed verification: " + "; ".join(problems[:5]))
    log.info("backup %s verified: %s", backup_id, checks)
    return result


def _restore_check(
    source: DbTarget, restore_to: DbTarget, client: pgclient.Client, local: Path, manifest: dict, problems: list[str]
) -> dict:
    """Restore into a scratch database on ``restore_to``'s server, compare exact row counts, drop it."""
    if not manifest.get("exact_counts"):
        problems.append("a restore check needs a backup taken with exact row counts")
        return {}
    scratch = f"dm_restore_{uuid.uuid4().hex[:10]}"
    with connection(restore_to) as conn:
        execute(conn, "backup/create_database.sql", database=scratch)
    try:
        scratch_target = restore_to.with_database(scratch)
        pgclient.run(
            client,
            [f"--jobs={manifest['format_options']['jobs']}", "--no-password", f"--dbname={scratch}", str(local)],
            scratch_target,
        )
        mismatched = {}
        with connection(scratch_target) as conn:
            for table, facts in manifest["tables"].items():
                if "rows" not in facts:
                    continue
                restored = int(fetch_one(conn, "introspect/count_rows.sql", table=table)["rows"])
                if restored != facts["rows"]:
                    mismatched[table] = {"backup": facts["rows"], "restored": restored}
        for table, counts in mismatched.items():
            problems.append(f"restored {table} has {counts['restored']} rows, the snapshot had {counts['backup']}")
        return {
            "database": scratch,
            "tables_compared": sum(1 for f in manifest["tables"].values() if "rows" in f),
            "mismatched": mismatched,
        }
    finally:
        with connection(restore_to) as conn:
            execute(conn, "backup/drop_database.sql", database=scratch)


# ---------------------------------------------------------------- catalogue and rotation


def list_backups(store: StoreConfig, dbname: str) -> list[dict]:
    """Every backup of ``dbname`` in the store, newest first, with its verification if any."""
    op = store.operator()
    base = backup_prefix(store, dbname)
    found = []
    try:
        entries = list(op.list(base))
    except Exception:
        return []
    for entry in entries:
        path = entry.path
        if not path.endswith("/") or path.rstrip("/") == base.rstrip("/"):
            continue
        backup_id = path.rstrip("/").rsplit("/", 1)[-1]
        manifest = read_json(store, f"{base}{backup_id}/{MANIFEST}")
        verification = read_json(store, f"{base}{backup_id}/{VERIFICATION}")
        found.append(
            {
                "backup_id": backup_id,
                "complete": manifest is not None,
                "created_at": manifest["created_at"] if manifest else None,
                "total_bytes": manifest["total_bytes"] if manifest else None,
                "verified": bool(verification and verification.get("ok")),
            }
        )
    return sorted(found, key=lambda b: b["backup_id"], reverse=True)


def rotate(store: StoreConfig, dbname: str, *, keep_count: int, keep_days: int, now: datetime | None = None) -> dict:
    """Delete backups beyond the newest ``keep_count`` or older than ``keep_days``, and incomplete
    ones older than a day. The newest verified backup is never deleted, whatever its age."""
    now = now or datetime.now(UTC)
    backups = list_backups(store, dbname)
    newest_verified = next((b["backup_id"] for b in backups if b["verified"]), None)
    complete = [b for b in backups if b["complete"]]
    deleted, kept = [], []
    for backup in backups:
        stamp = datetime.strptime(backup["backup_id"][:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        age = now - stamp
        if backup["backup_id"] == newest_verified:
            kept.append(backup["backup_id"])
            continue
        if not backup["complete"]:
            expired = age > timedelta(days=1)
        else:
            expired = complete.index(backup) >= keep_count or age > timedelta(days=keep_days)
        if expired:
            store.operator().remove_all(backup_prefix(store, dbname) + backup["backup_id"] + "/")
            deleted.append(backup["backup_id"])
        else:
            kept.append(backup["backup_id"])
    log.info("rotation: kept %s, deleted %s", kept, deleted)
    return {"kept": kept, "deleted": deleted}


def run_report(manifest: dict | None, verified: dict | None, rotated: dict | None) -> tuple[dict, list[str]]:
    """The run's report (the history keeps it; the maintenance page finds the newest verified
    backup in it) and its lines, from what each step returned (None: the step did not finish)."""
    ok = bool(manifest and verified and verified["ok"] and rotated is not None)
    rep: dict = {"outcome": "success" if ok else "failed", "verified": bool(verified and verified["ok"])}
    lines = []
    if manifest:
        rep.update({k: manifest[k] for k in ("backup_id", "total_bytes", "database", "dify_version", "scope", "store")})
        lines += [
            f"backup {manifest['backup_id']} of {manifest['database']}",
            f"Dify {manifest['dify_version']} (alembic {manifest['alembic_head']}), PostgreSQL {manifest['server_version']}",
            f"scope {manifest['scope']}, {len(manifest['files'])} files, {manifest['total_bytes'] / 1e6:.1f} MB, "
            f"{manifest['format_options']['compression']}, {manifest['duration_seconds']} s, stored in {manifest['store']}",
        ]
    if verified:
        lines.append(f"verified: {verified['checks']}")
    if rotated:
        rep["rotation"] = {"kept": len(rotated["kept"]), "deleted": rotated["deleted"]}
        lines.append(f"rotation: kept {len(rotated['kept'])}, deleted {rotated['deleted'] or 'none'}")
    if verified and not verified["ok"]:
        rep["error"] = f"verify: the backup did not pass its checks: {verified['checks']}"
    return rep, lines or ["no backup was made"]
