"""Restoring an archive: only what we archived, checked whole before the first row goes back,
completed by a rerun, conflicts told apart from rows already restored, store outages retried."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import psycopg
import pytest
from support.purge import fingerprints, run_all

from dify_maintenance.core.db import url_connector
from dify_maintenance.core.errors import ArchiveRefused, ArchiveStoreUnreachable, MaintenanceError
from dify_maintenance.retention import restore
from dify_maintenance.storage import archive
from dify_maintenance.storage.stores import StoreConfig


@pytest.fixture
def purged(databases, tmp_path):
    """A generated Dify 1.14 database after a real purge with the archive on."""
    url = databases.fresh("1.14")
    before = fingerprints(url)
    store = StoreConfig("fs", {"root": str(tmp_path / "archive")})
    ctx, results, _ = run_all(url, store, "restore-me")
    return url, store, ctx["archive_prefix"], before


def manifest_paths(store: StoreConfig, prefix: str) -> list[Path]:
    return sorted((Path(store.options["root"]) / prefix).rglob("manifest.json"))


def restored_rows(url: str) -> int:
    return sum(count for count, _ in fingerprints(url).values())


def test_a_manifest_naming_a_table_we_never_archive_restores_nothing(purged):
    url, store, prefix, _ = purged
    first = manifest_paths(store, prefix)[0]
    manifest = json.loads(first.read_text())
    forged = dict(manifest["tables"][0], table="accounts", columns=["id", "name", "email"])
    manifest["tables"].append(forged)
    first.write_text(json.dumps(manifest))
    rows_before = restored_rows(url)
    with psycopg.connect(url) as conn:
        accounts = conn.execute("select count(*) from accounts").fetchone()[0]
    with pytest.raises(ArchiveRefused, match=r"'accounts' is not a table the '\w+' family archives"):
        restore.restore(url_connector(url), store, prefix)
    assert restored_rows(url) == rows_before
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from accounts").fetchone()[0] == accounts


def test_a_family_the_recorded_run_never_purged_is_refused(purged):
    url, store, prefix, _ = purged
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("update dify_maintenance.runs set cutoffs = cutoffs - 'workflow_logs'")
    with pytest.raises(ArchiveRefused, match="did not purge family 'workflow_logs'"):
        restore.restore(url_connector(url), store, prefix)


def test_a_corrupt_object_stops_the_restore_before_the_first_row_and_a_rerun_completes(purged):
    url, store, prefix, before = purged
    rows_before = restored_rows(url)
    last = manifest_paths(store, prefix)[-1]
    part = last.parent / json.loads(last.read_text())["tables"][0]["object"].rsplit("/", 1)[-1]
    good = part.read_bytes()
    part.write_bytes(good[:-8] + b"corrupt!")
    with pytest.raises(MaintenanceError):
        restore.restore(url_connector(url), store, prefix)
    assert restored_rows(url) == rows_before  # nothing of the earlier, sound batches went back
    part.write_bytes(good)
    restore.restore(url_connector(url), store, prefix)
    assert fingerprints(url) == before


def test_rows_whose_key_dify_reused_are_conflicts_not_already_restored(purged):
    url, store, prefix, _ = purged
    # Dify writes a new run under the id of one this purge archived
    entry = next(
        e
        for path in manifest_paths(store, prefix)
        for e in json.loads(path.read_text())["tables"]
        if e["table"] == "workflow_runs"
    )
    data = archive.read_part(store.operator(), entry)
    assert entry["encoding"] == archive.JSON_ENCODING  # the purge archives each row as one JSON object
    taken = re.search(rb'"id":"([0-9a-f-]{36})"', data.split(b"\n", 1)[0]).group(1).decode()
    with psycopg.connect(url, autocommit=True) as conn:
        template = conn.execute("select * from workflow_runs limit 1").fetchone()
        columns = [d.name for d in conn.execute("select * from workflow_runs limit 0").description]
        values = dict(zip(columns, template, strict=True), id=taken, status="running")
        conn.execute(
            psycopg.sql.SQL("insert into workflow_runs ({}) values ({})").format(
                psycopg.sql.SQL(", ").join(map(psycopg.sql.Identifier, values)),
                psycopg.sql.SQL(", ").join(psycopg.sql.Placeholder() * len(values)),
            ),
            list(values.values()),
        )
    first_pass = restore.restore(url_connector(url), store, prefix)["workflow_runs"]
    assert first_pass["conflicts"] == 1 and first_pass["already_present"] == 0
    assert first_pass["inserted"] == first_pass["archived"] - 1
    again = restore.restore(url_connector(url), store, prefix)["workflow_runs"]
    assert again == {**first_pass, "inserted": 0, "already_present": first_pass["inserted"]}


def test_an_unreachable_store_is_worth_the_tasks_retries(purged):
    """A timeout or refused connection is not the operator's mistake: the error is retryable,
    so the task's retries run (only operator errors fail at once)."""
    url, _, prefix, _ = purged
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = StoreConfig(
        "s3",
        {
            "bucket": "b",
            "region": "us-east-1",
            "endpoint": f"http://127.0.0.1:{port}",
            "access_key_id": "a",
            "secret_access_key": "b",
        },
    )
    with pytest.raises(ArchiveStoreUnreachable) as err:
        restore.restore(url_connector(url), down, prefix)
    assert err.value.retryable
