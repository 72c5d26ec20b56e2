"""Orphaned files on generated Dify data: no referenced file and nothing inside the grace period is
ever a candidate (checked against an oracle that searches every row of every table), every
reference path protects, and a quarantine restores objects and rows exactly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from support.data import ANCHOR
from support.env import SHARED_SCHEMAS, SUPPORTED_DUMPS
from support.orphan_scenario import REFERENCE_PATHS, build, file_rows, mentioned_ids, tree
from support.storage import MotoServer

from devtools import fixtures
from dify_maintenance.core.db import url_connector
from dify_maintenance.core.errors import InvalidPolicy
from dify_maintenance.files import orphans
from dify_maintenance.files.quarantine import Quarantine
from dify_maintenance.retention import restore
from dify_maintenance.storage.stores import StoreConfig


def find(sc, run_id: str, **request) -> dict:
    """preflight, inventory and every reference scan, as the DAG runs them."""
    prefixes = ["upload_files/", "image_files/", "tools/", "keyword_files/", "website_files/"]
    req = orphans.request_from({"prefixes": prefixes, **request})
    archive_store = StoreConfig("fs", {"root": str(sc.root.parent / "archive")})
    connector = url_connector(sc.url)
    ctx = orphans.preflight(
        connector,
        sc.store,
        req,
        dag_id="test_orphans",
        run_id=run_id,
        archive_store=archive_store,
        now=sc.now.replace(tzinfo=UTC),
    )
    ctx["listed"] = orphans.inventory(connector, sc.store, ctx)
    for table in orphans.source_tables(ctx):
        orphans.scan(connector, ctx, table)
    orphans.scan_payloads(connector, sc.store, ctx)
    return ctx


def candidates(url: str, run_key: str) -> dict[str, dict]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT kind, file_id, key, referenced_by, outcome FROM dify_maintenance.file_candidates WHERE run_key = %s",
            (run_key,),
        ).fetchall()
    return {str(r[1]) if r[1] else r[2]: {"kind": r[0], "key": r[2], "referenced_by": r[3], "outcome": r[4]} for r in rows}


LATEST = SHARED_SCHEMAS / "dify-1.14.1.sql"
needs_dumps = pytest.mark.skipif(not LATEST.is_file(), reason=f"real schema dumps not in {SHARED_SCHEMAS}")


@pytest.fixture(scope="module")
def scenario_db(databases, tmp_path_factory):
    """Dify 1.14.1's real schema (every reference path exists there)."""
    if not LATEST.is_file():
        pytest.skip(f"real schema dumps not in {SHARED_SCHEMAS}")
    url = databases.fresh(empty=True)
    fixtures.load_dump(url, LATEST)
    root = tmp_path_factory.mktemp("orphans") / "dify-storage"
    sc = build(url, root, ANCHOR)
    return sc


def test_only_unreferenced_files_outside_the_grace_period_are_candidates(scenario_db):
    sc = scenario_db
    before = (tree(sc.root), file_rows(sc.url))
    ctx = find(sc, "dry")
    seen = candidates(sc.url, ctx["run_key"])
    orphan = {k: v for k, v in seen.items() if v["referenced_by"] is None}
    orphan_rows = {uuid.UUID(k) for k, v in orphan.items() if v["kind"] != "object"}

    # the oracle: old upload rows whose id no other row mentions, exactly
    with psycopg.connect(sc.url) as conn:
        old_uploads = {
            r[0] for r in conn.execute("SELECT id FROM upload_files WHERE created_at < %s", (sc.now - timedelta(days=7),))
        }
    expected_uploads = old_uploads - mentioned_ids(sc.url, old_uploads, sc.root)
    assert {i for i in orphan_rows if seen[str(i)]["kind"] == "upload_file"} == expected_uploads
    assert mentioned_ids(sc.url, orphan_rows, sc.root) == set()
    assert sc.orphan_uploads and sc.orphan_uploads <= orphan_rows

    # every reference path protects its file, and is the reason recorded
    with psycopg.connect(sc.url) as conn:
        present = set(conn.execute("SELECT table_name, column_name FROM information_schema.columns").fetchall())
    assert set(sc.referenced) == {f"{t}.{c}" for t, c in REFERENCE_PATHS if (t, c) in present}  # 1.15+ paths only there
    for source, file_id in sc.referenced.items():
        assert seen[str(file_id)]["referenced_by"] == source, source

    # the grace period, tool files, unnamed and protected objects
    assert str(sc.young_upload) not in seen
    assert seen[str(sc.live_tool)]["referenced_by"].startswith("conversations.id")
    assert seen[str(sc.orphan_tool)]["referenced_by"] is None
    assert {k for k, v in orphan.items() if v["kind"] == "object"} == set(sc.unnamed_old)
    for key in sc.unnamed_young + sc.protected:
        assert key not in seen
    # a dry run changed nothing
    assert (tree(sc.root), file_rows(sc.url)) == before


def test_real_run_quarantines_and_one_restore_brings_everything_back(scenario_db, tmp_path):
    sc = scenario_db
    objects_before, rows_before = tree(sc.root), file_rows(sc.url)
    ctx = find(sc, "real", dry_run=False)
    connector = url_connector(sc.url)
    archive_store = StoreConfig("fs", {"root": str(sc.root.parent / "archive")})
    collected = orphans.collect(connector, sc.store, archive_store, ctx)
    deleted, moved = collected["rows_deleted"], collected["objects"]
    seen = candidates(sc.url, ctx["run_key"])
    orphan_rows = [k for k, v in seen.items() if v["kind"] != "object" and v["referenced_by"] is None]
    assert deleted["upload_files"] + deleted.get("tool_files", 0) == len(orphan_rows)
    with psycopg.connect(sc.url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM upload_files WHERE id = ANY(%s)", ([uuid.UUID(i) for i in orphan_rows],)
        ).fetchone()
        assert left[0] == 0
    after = tree(sc.root)
    for key in sc.unnamed_old:
        assert key not in after and (sc.root / "_dify_maintenance/quarantine" / ctx["quarantine_id"] / "objects" / key).is_file()
    for key in sc.unnamed_young + sc.protected + [sc.shared_key]:
        assert after[key] == objects_before[key]
    assert moved["kept: named by a live row"] == 1  # the shared object
    assert moved["quarantined"] == len(objects_before) - len(after)
    # every referenced file is still there
    for file_id in sc.referenced.values():
        assert seen[str(file_id)]["outcome"] is None

    # one restore: objects back byte for byte, rows back exactly
    box = Quarantine(sc.store, ctx["quarantine_id"])
    restored = box.restore()
    assert restored["restored"] == moved["quarantined"] and restored["conflict"] == 0
    rows = restore.restore(connector, archive_store, box.info()["archive_prefix"])
    assert rows["upload_files"]["inserted"] == deleted["upload_files"]
    assert tree(sc.root) == objects_before
    assert file_rows(sc.url) == rows_before
    assert box.restore()["already_back"] == moved["quarantined"]  # twice is harmless


@pytest.mark.parametrize("dump", [d for d in SUPPORTED_DUMPS if d != LATEST], ids=lambda d: d.stem)
def test_every_dify_version_keeps_what_its_rows_reference(databases, tmp_path, dump):
    url = databases.fresh(empty=True)
    fixtures.load_dump(url, dump)
    sc = build(url, tmp_path / "dify-storage", ANCHOR, runs=100)
    ctx = find(sc, dump.stem)
    seen = candidates(sc.url, ctx["run_key"])
    orphan_rows = {uuid.UUID(k) for k, v in seen.items() if v["kind"] != "object" and v["referenced_by"] is None}
    assert sc.orphan_uploads <= orphan_rows
    assert mentioned_ids(url, orphan_rows, sc.root) == set()
    for source, file_id in sc.referenced.items():
        assert seen[str(file_id)]["referenced_by"] == source
    assert {k for k, v in seen.items() if v["kind"] == "object" and v["referenced_by"] is None} == set(sc.unnamed_old)


def test_bad_requests_fail_before_anything_is_examined():
    with pytest.raises(InvalidPolicy, match="privkeys/") as err:
        orphans.request_from({"prefixes": ["privkeys/"], "grace_days": 0, "surprise": 1})
    assert "grace_days" in str(err.value) and "unknown parameters: surprise" in str(err.value)


def test_quarantine_on_s3_moves_by_copy_and_restores(tmp_path):
    moto = MotoServer().start()
    try:
        moto.create_bucket("dify")
        store = moto.store("dify")
        op = store.operator()
        keys = [f"upload_files/t/{i}.bin" for i in range(5)]
        for i, key in enumerate(keys):
            op.write(key, bytes([i]) * (1000 + i))
        box = Quarantine(store, "q1")
        box.open({"run_key": "x", "archive_prefix": "none"})
        outcomes = box.move_batch(
            1, [{"key": k} for k in keys] + [{"key": "privkeys/t/private.pem"}], datetime.now(UTC) + timedelta(1)
        )
        assert outcomes == ["quarantined"] * 5 + ["kept: protected key"]
        assert not any(op.exists(k) for k in keys)
        assert box.restore()["restored"] == 5
        assert [bytes(op.read(k)) for k in keys] == [bytes([i]) * (1000 + i) for i in range(5)]
    finally:
        moto.stop()


@needs_dumps
@pytest.mark.parametrize("dump", [LATEST, SHARED_SCHEMAS / "dify-1.16.1.sql"], ids=lambda d: d.stem)
def test_orphaned_files_dag_dry_run_real_run_and_restore_dag(databases, run_dag, tmp_path, dump):
    """The DAGs end to end: a dry run changes nothing and writes the CSV; a real run deletes the
    orphan rows and quarantines their objects; dify_restore_quarantine puts everything back."""
    from airflow.utils.state import DagRunState

    url = databases.fresh(empty=True)
    fixtures.load_dump(url, dump)
    sc = build(url, tmp_path / "dify-storage", ANCHOR, runs=100)
    env = tmp_path / ".env"
    env.write_text(f"STORAGE_TYPE=opendal\nOPENDAL_SCHEME=fs\nOPENDAL_FS_ROOT={sc.root}\n")
    archive_root = tmp_path / "archive"
    objects_before, rows_before = tree(sc.root), file_rows(url)

    scope = {"dify_env": str(env), "prefixes": ["upload_files/", "image_files/", "tools/", "website_files/"]}
    dr, xcoms, states = run_dag("dify_orphaned_files", url, conf=scope, archive_root=archive_root)
    assert dr.state == DagRunState.SUCCESS, states
    dry = xcoms["report"]
    assert dry["dry_run"] is True and dry["candidates"]["object"] == len(sc.unnamed_old)
    assert dry["candidates"]["upload_file"] >= len(sc.orphan_uploads)
    listed = orphans.csv_rows((archive_root / xcoms["candidates"]["csv"]["key"]).read_bytes())
    assert len(listed) == sum(dry["candidates"].values())
    assert {r["key"] for r in listed if r["kind"] == "object"} == set(sc.unnamed_old)
    assert (tree(sc.root), file_rows(url)) == (objects_before, rows_before)

    dr, xcoms, states = run_dag("dify_orphaned_files", url, conf={**scope, "dry_run": False}, archive_root=archive_root)
    assert dr.state == DagRunState.SUCCESS, states
    real = xcoms["collect"]
    assert real["rows_deleted"]["upload_files"] == dry["candidates"]["upload_file"]
    assert all(key not in tree(sc.root) for key in sc.unnamed_old)
    assert file_rows(url) != rows_before
    qid = xcoms["preflight"]["quarantine_id"]

    dr, xcoms, states = run_dag(
        "dify_restore_quarantine", url, conf={"dify_env": str(env), "quarantine_id": qid}, archive_root=archive_root
    )
    assert dr.state == DagRunState.SUCCESS, states
    assert xcoms["restore"]["objects"]["restored"] == real["objects"]["quarantined"]
    assert tree(sc.root) == objects_before
    assert file_rows(url) == rows_before
    with psycopg.connect(url) as conn:
        history = conn.execute("SELECT outcome, report->>'dry_run' FROM dify_maintenance.history ORDER BY id").fetchall()
    assert history == [("success", "true"), ("success", "false"), ("success", None)]  # the restore's row too


def test_retention_collects_the_files_only_purged_rows_referenced(databases, run_dag, tmp_path, monkeypatch):
    """collect_files on a real retention run: uploads of purged messages and offloads of purged
    runs go to quarantine; every file a remaining row references stays, row and object."""
    import json

    from airflow.utils.state import DagRunState
    from support.orphan_scenario import _age

    from devtools import generator

    url = databases.fresh(empty=True)
    fixtures.load_sql(url, fixtures.fixture_schema("1.14"))
    root = tmp_path / "dify-storage"
    generator.generate(
        url_connector(url),
        anchor=ANCHOR,
        scale=generator.Scale(runs=200, tenants=2),
        storage=StoreConfig("fs", {"root": str(root)}),
    )
    with psycopg.connect(url) as conn:
        for key, created in conn.execute("SELECT key, created_at FROM upload_files"):
            _age(root, key, created)
        total = conn.execute("SELECT count(*) FROM upload_files").fetchone()[0]
    monkeypatch.setenv(
        "AIRFLOW_CONN_DIFY_STORAGE", json.dumps({"conn_type": "generic", "extra": {"scheme": "fs", "root": str(root)}})
    )
    dr, xcoms, states = run_dag(
        "dify_retention", url, conf={"collect_files": True, "dry_run": False}, archive_root=tmp_path / "arch"
    )
    assert dr.state == DagRunState.SUCCESS, states
    files = xcoms["collect_files"]
    collected = files["outcomes"].get("upload_file: quarantined", 0)
    assert collected > 0 and files["rows_deleted"]["upload_files"] == collected
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM upload_files").fetchone()[0] == total - collected
        still = conn.execute(
            "SELECT u.key FROM upload_files u WHERE u.id IN (SELECT upload_file_id FROM message_files UNION SELECT file_id FROM workflow_node_execution_offload)"
        ).fetchall()
        missing_rows = conn.execute(
            "SELECT count(*) FROM (SELECT upload_file_id AS id FROM message_files UNION SELECT file_id FROM workflow_node_execution_offload "
            "WHERE node_execution_id IS NOT NULL) r WHERE NOT EXISTS (SELECT 1 FROM upload_files u WHERE u.id = r.id)"
        ).fetchone()[0]
    assert still and all((root / key).is_file() for (key,) in still)
    assert missing_rows == 0
