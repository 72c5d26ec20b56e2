"""Backups on real PostgreSQL: round trip, verification catching damage, rotation, the client search."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from airflow.utils.state import DagRunState

from dify_maintenance.core.db import url_connector
from dify_maintenance.core.errors import MaintenanceError
from dify_maintenance.database import backup, pgclient
from dify_maintenance.database.backup import BackupFailed, BackupRequest
from dify_maintenance.storage.stores import StoreConfig


def counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        tables = [
            r[0]
            for r in conn.execute("select relname from pg_class where relkind = 'r' and relnamespace = 'public'::regnamespace")
        ]
        return {
            t: conn.execute(psycopg.sql.SQL("select count(*) from {}").format(psycopg.sql.Identifier(t))).fetchone()[0]
            for t in tables
        }


def test_round_trip_restores_identical_row_counts(databases, tmp_path, pg_admin):
    url = databases.fresh("1.14")
    store = StoreConfig("fs", {"root": str(tmp_path / "store")})
    target = url_connector(url)
    manifest = backup.create(target, store, BackupRequest(exact_counts=True, jobs=2))
    assert manifest["dify_version"] == "1.14.1" and manifest["alembic_head"]
    assert manifest["tables"]["workflow_runs"]["rows"] == counts(url)["workflow_runs"] > 0
    stored = tmp_path / "store" / "backups" / target.dbname / manifest["backup_id"]
    assert json.loads((stored / "manifest.json").read_text())["files"] == manifest["files"]
    verified = backup.verify(target, store, manifest["backup_id"], restore_check=True)
    assert verified["ok"] and verified["checks"]["restore"]["mismatched"] == {}
    assert verified["checks"]["restore"]["tables_compared"] == len(counts(url))
    # and an independent restore with pg_restore into a new database gives the same counts
    restored = databases.fresh(empty=True)
    client = pgclient.find("pg_restore", 15)
    local = tmp_path / "copy"
    for entry in manifest["files"]:
        (local / entry["name"]).parent.mkdir(parents=True, exist_ok=True)
        (local / entry["name"]).write_bytes((stored / "dump" / entry["name"]).read_bytes())
    pgclient.run(client, ["--no-password", f"--dbname={url_connector(restored).dbname}", str(local)], url_connector(restored))
    assert counts(restored) == counts(url)


def test_verification_catches_a_damaged_file(databases, tmp_path):
    url = databases.fresh("1.14")
    store = StoreConfig("fs", {"root": str(tmp_path / "store")})
    target = url_connector(url)
    manifest = backup.create(target, store, BackupRequest())
    biggest = max(manifest["files"], key=lambda f: f["bytes"])
    path = tmp_path / "store" / "backups" / target.dbname / manifest["backup_id"] / "dump" / biggest["name"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BackupFailed, match="sha256"):
        backup.verify(target, store, manifest["backup_id"])
    listed = backup.list_backups(store, target.dbname)
    assert listed[0]["backup_id"] == manifest["backup_id"] and listed[0]["verified"] is False


def test_scope_without_log_data_keeps_their_schema(databases, tmp_path):
    url = databases.fresh("1.14")
    store = StoreConfig("fs", {"root": str(tmp_path / "store")})
    target = url_connector(url)
    manifest = backup.create(target, store, BackupRequest(scope="no_log_data", exact_counts=True))
    assert {"workflow_runs", "workflow_node_executions", "messages"} <= set(manifest["data_excluded"])
    backup.verify(target, store, manifest["backup_id"])
    restored = databases.fresh(empty=True)
    stored = tmp_path / "store" / "backups" / target.dbname / manifest["backup_id"] / "dump"
    client = pgclient.find("pg_restore", 15)
    pgclient.run(client, ["--no-password", f"--dbname={url_connector(restored).dbname}", str(stored)], url_connector(restored))
    got = counts(restored)
    assert got["workflow_runs"] == 0 and got["messages"] == 0
    assert got["apps"] == counts(url)["apps"] > 0


def test_rotation_by_count_and_age_keeps_the_newest_verified(tmp_path):
    store = StoreConfig("fs", {"root": str(tmp_path / "store")})
    op = store.operator()
    now = datetime.now(UTC)  # rotation is told its moment: everything is relative to it
    ids = [backup.new_backup_id(now - timedelta(days=d)) for d in (40, 20, 3, 2, 1)]
    for i, bid in enumerate(ids):
        prefix = backup.backup_prefix(store, "dify") + bid + "/"
        op.write(prefix + "manifest.json", json.dumps({"created_at": "x", "total_bytes": 1}).encode())
        if i == 0:
            op.write(prefix + "verification.json", json.dumps({"ok": True}).encode())
    incomplete = backup.new_backup_id(now - timedelta(days=2))
    op.write(backup.backup_prefix(store, "dify") + incomplete + "/dump/toc.dat", b"partial")
    result = backup.rotate(store, "dify", keep_count=2, keep_days=30, now=now)
    left = {b["backup_id"] for b in backup.list_backups(store, "dify")}
    # newest two complete ones by count; the 40-day-old one survives only because it is the newest verified
    assert left == {ids[0], ids[3], ids[4]}
    assert set(result["deleted"]) == {ids[1], ids[2], incomplete}


def test_no_fitting_pg_dump_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(pgclient, "_SEARCH_GLOBS", ())
    monkeypatch.delenv(pgclient.BIN_DIR_ENV, raising=False)
    with pytest.raises(pgclient.ClientNotFound, match="postgresql-client-15"):
        pgclient.find("pg_dump", 15)


def test_newest_fitting_client_is_chosen():
    client = pgclient.find("pg_dump", 15)
    assert client.major >= 15
    with pytest.raises(pgclient.ClientNotFound):
        pgclient.find("pg_dump", 99)


def test_password_reaches_pg_dump_only_through_its_environment(databases, tmp_path, pg_admin, monkeypatch):
    """pg_dump gets PGPASSWORD in its environment; the argv we log and run never holds it."""
    url = databases.fresh("1.14")
    name = "dm_backup_secret_role"
    with psycopg.connect(pg_admin, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("DROP ROLE IF EXISTS {}").format(psycopg.sql.Identifier(name)))
        conn.execute(psycopg.sql.SQL("CREATE ROLE {} LOGIN SUPERUSER PASSWORD 's3cret-pw'").format(psycopg.sql.Identifier(name)))
    seen: list[list[str]] = []
    real_run = pgclient.subprocess.run

    def spy(argv, **kwargs):
        seen.append(list(argv))
        if "env" in kwargs and kwargs["env"] and "--version" not in argv:
            assert kwargs["env"].get("PGPASSWORD") in (None, "s3cret-pw")
        return real_run(argv, **kwargs)

    monkeypatch.setattr(pgclient.subprocess, "run", spy)
    info = psycopg.conninfo.conninfo_to_dict(url)
    target = url_connector(psycopg.conninfo.make_conninfo(**{**info, "user": name, "password": "s3cret-pw"}))
    try:
        manifest = backup.create(target, StoreConfig("fs", {"root": str(tmp_path / "s")}), BackupRequest())
    finally:
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("DROP ROLE IF EXISTS {}").format(psycopg.sql.Identifier(name)))
    assert manifest["files"]
    assert seen and not any("s3cret-pw" in arg for argv in seen for arg in argv)
    assert "s3cret-pw" not in json.dumps(manifest)


def test_bad_request_is_refused_before_any_dump():
    with pytest.raises(MaintenanceError, match="scope"):
        BackupRequest(scope="everything").validate()
    with pytest.raises(MaintenanceError, match="at least one table"):
        BackupRequest(scope="tables").validate()


def test_backup_dag_end_to_end(databases, run_dag, tmp_path, monkeypatch):
    url = databases.fresh("1.14")
    monkeypatch.setenv("DIFY_MAINT_BACKUP_ROOT", str(tmp_path / "backups"))
    dr, xcoms, states = run_dag("dify_backup", url, conf={"restore_check": True, "keep_count": 1})
    assert dr.state == DagRunState.SUCCESS, states
    assert xcoms["verify"]["ok"] and xcoms["verify"]["checks"]["restore"]["mismatched"] == {}
    dbname = url_connector(url).dbname
    assert os.listdir(tmp_path / "backups" / "backups" / dbname) == [xcoms["dump"]["backup_id"]]
