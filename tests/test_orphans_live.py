"""Orphaned files on Dify 1.14.1, 1.15.0 and 1.16.1's real schemas, for real (rows deleted,
objects quarantined), with a live file for every way Dify names one and a writer that names
orphans during the run: before the batches are collected and between two batches. No live file
may go, every true orphan must; the oracle (tests/support/orphan_scenario.py) decides which is which at
the end, on its own."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, timedelta

import psycopg
import pytest
from support.data import ANCHOR
from support.env import SHARED_SCHEMAS
from support.orphan_scenario import (
    REF_FORMS,
    _normalized,
    build,
    file_dump,
    insert_referencing_row,
    mentioned_ids,
    tree,
)

from devtools import fixtures
from dify_maintenance.core.db import url_connector
from dify_maintenance.files import orphans
from dify_maintenance.storage.stores import StoreConfig

DUMPS = [SHARED_SCHEMAS / f"dify-{v}.sql" for v in ("1.14.1", "1.15.0", "1.16.1")]
needs_dumps = pytest.mark.skipif(not all(d.is_file() for d in DUMPS), reason=f"real schema dumps not in {SHARED_SCHEMAS}")
PREFIXES = ["upload_files/", "image_files/", "tools/", "keyword_files/", "website_files/"]
# every kind of reference the scenario plants a live file for (on the Dify versions that have it)
KINDS = [k for k, *_ in REF_FORMS] + [
    "storage key in a ref",
    "tool file by ref",
    "offloaded node output, file 1001",
    "offloaded node output, file 1003",
    "offloaded draft variable",
    "paused run's state",
    "key with //",
]


def _uploads(url: str) -> dict[uuid.UUID, str]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT id, key FROM upload_files").fetchall())


class Writer:
    """Dify naming files while the run works: each write names one orphan through another form."""

    def __init__(self, sc, first_in_line: list[uuid.UUID], last_in_line: uuid.UUID) -> None:
        self.sc, self.todo, self.last, self.named = sc, list(first_in_line), last_in_line, []

    def _next(self) -> uuid.UUID:
        file_id = self.todo.pop(0)
        self.named.append(file_id)
        return file_id

    def before_collect(self) -> None:
        moment = self.sc.now - timedelta(minutes=1)
        with psycopg.connect(self.sc.url, autocommit=True) as conn:
            # a new message linking a file, a new conversation with a file input (1.14 form), a new attachment
            insert_referencing_row(conn, "messages", "answer", self._next(), moment)
            value = json.dumps({"doc": file_dump(self._next())})
            insert_referencing_row(conn, "conversations", "inputs", None, moment, value=value)
            insert_referencing_row(conn, "message_files", "upload_file_id", self._next(), moment)
            # an old message whose answer now links a file (an update, not an insert)
            link = f" ![x](/files/{self._next()}/file-preview)"
            conn.execute(
                "UPDATE messages SET answer = answer || %s WHERE id = (SELECT min(id::text)::uuid FROM messages)", (link,)
            )
            # a new draft variable holding a file
            value = json.dumps(file_dump(self._next()))
            insert_referencing_row(conn, "workflow_draft_variables", "value", None, moment, value=value)
            # a new offloaded node payload naming a file
            tenant, app, node = conn.execute("SELECT tenant_id, app_id, id FROM workflow_node_executions LIMIT 1").fetchone()
            key = f"upload_files/{tenant}/{uuid.uuid4()}.json"
            (self.sc.root / key).parent.mkdir(parents=True, exist_ok=True)
            (self.sc.root / key).write_text(json.dumps({"outputs": [file_dump(self._next())]}))
            payload = uuid.uuid4()
            conn.execute(
                "INSERT INTO upload_files (id, tenant_id, storage_type, key, name, size, extension, created_by, created_at, used) "
                "VALUES (%s, %s, 'opendal', %s, 'p.json', 10, 'json', %s, %s, true)",
                (payload, tenant, key, uuid.uuid4(), moment),
            )
            extra = {"node_execution_id": node, "tenant_id": tenant, "app_id": app, "type": "inputs"}
            insert_referencing_row(conn, "workflow_node_execution_offload", "file_id", payload, moment, extra=extra)

    def between_batches(self) -> None:
        """A conversation started between two batches names the orphan furthest back in line."""
        self.named.append(self.last)
        with psycopg.connect(self.sc.url, autocommit=True) as conn:
            value = json.dumps({"doc": file_dump(self.last)})
            insert_referencing_row(conn, "conversations", "inputs", None, self.sc.now - timedelta(seconds=5), value=value)


def _real_run(sc, monkeypatch) -> dict:
    """dify_orphaned_files's steps, for real, with the writer at work; returns what the test needs."""
    connector = url_connector(sc.url)
    archive = StoreConfig("fs", {"root": str(sc.root.parent / "archive")})
    req = orphans.request_from({"prefixes": PREFIXES, "dry_run": False, "batch_size": 3})
    ctx = orphans.preflight(
        connector, sc.store, req, dag_id="test_live", run_id="real", archive_store=archive, now=sc.now.replace(tzinfo=UTC)
    )
    orphans.inventory(connector, sc.store, ctx)
    for table in orphans.source_tables(ctx):
        orphans.scan(connector, ctx, table)
    payloads = orphans.scan_payloads(connector, sc.store, ctx)
    with psycopg.connect(sc.url) as conn:
        in_line = [
            r[0]
            for r in conn.execute(
                "SELECT file_id FROM dify_maintenance.file_candidates WHERE run_key = %s AND kind = 'upload_file' "
                "AND referenced_by IS NULL ORDER BY id",
                (ctx["run_key"],),
            )
        ]
    # the writer names orphans the scenario made (so a live file the engine missed is never one):
    # the first in line before the batches, the last in line between two of them
    judged = [f for f in in_line if f in sc.orphan_uploads]
    writer = Writer(sc, judged[:6], judged[-1])
    writer.before_collect()
    real_recheck, calls = orphans.recheck, []

    def recheck_with_a_write(conn, store, ctx, batch):
        calls.append(len(batch))
        if len(calls) == 2:
            writer.between_batches()
        return real_recheck(conn, store, ctx, batch)

    monkeypatch.setattr(orphans, "recheck", recheck_with_a_write)
    before = _uploads(sc.url)
    created = _created(sc.url, before)
    collected = orphans.collect(connector, sc.store, archive, ctx)
    return {
        "ctx": ctx,
        "before": before,
        "created": created,
        "collected": collected,
        "writer": writer,
        "payloads": payloads,
        "batches": len(calls),
    }


def _build_and_run(databases, dump, tmp_path, monkeypatch):
    url = databases.fresh(empty=True)
    fixtures.load_dump(url, dump)
    sc = build(url, tmp_path / "dify-storage", ANCHOR, runs=100)
    objects_before = tree(sc.root)
    run = _real_run(sc, monkeypatch)
    return sc, objects_before, run


@needs_dumps
@pytest.mark.parametrize("dump", DUMPS, ids=lambda d: d.stem)
def test_no_live_file_is_taken_and_every_orphan_is(databases, tmp_path, monkeypatch, dump):
    sc, objects_before, run = _build_and_run(databases, dump, tmp_path, monkeypatch)
    before, after = run["before"], _uploads(sc.url)
    deleted = set(before) - set(after)
    objects_after = tree(sc.root)
    moved = {k for k in objects_before if k not in objects_after}

    # nothing the oracle finds named (at the end, after every write) lost its row or its object
    assert deleted and mentioned_ids(sc.url, deleted, sc.root) == set()
    live_keys = {_normalized(k) for k in after.values()}
    assert not moved & live_keys
    assert sc.website_live in objects_after
    # every true orphan went: old uploads nothing names at the end
    old = {i for i, created in run["created"].items() if created < sc.now - timedelta(days=7)}
    assert deleted == old - mentioned_ids(sc.url, old, sc.root)
    assert set(sc.unnamed_old) <= moved
    # what the writer named during the run stayed, row and object, and the report counts it
    for file_id in run["writer"].named:
        assert file_id in after and _normalized(after[file_id]) in objects_after, file_id
    assert run["collected"]["named_during_run"] >= len(run["writer"].named)
    assert run["batches"] > 2
    # every reference kind this Dify writes kept its file
    for kind, file_id in sc.live.items():
        key = _file_key(sc.url, file_id)
        assert key is not None and _normalized(key) in objects_after, kind
    assert run["payloads"]["read"] >= 3


def _file_key(url: str, file_id: uuid.UUID) -> str | None:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT key FROM upload_files WHERE id = %(id)s UNION ALL SELECT file_key FROM tool_files WHERE id = %(id)s",
            {"id": file_id},
        ).fetchone()
    return row[0] if row else None


def _created(url: str, ids) -> dict:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT id, created_at FROM upload_files WHERE id = ANY(%s)", (list(ids),)).fetchall())


@pytest.fixture(scope="module")
def newest_run(databases, tmp_path_factory):
    """The real run on Dify 1.16.1, which has every reference kind."""
    if not DUMPS[-1].is_file():
        pytest.skip(f"real schema dumps not in {SHARED_SCHEMAS}")
    patch = pytest.MonkeyPatch()
    try:
        yield _build_and_run(databases, DUMPS[-1], tmp_path_factory.mktemp("live"), patch)
    finally:
        patch.undo()


@pytest.mark.parametrize("kind", KINDS)
def test_each_reference_kind_keeps_its_file(newest_run, kind):
    sc, objects_before, run = newest_run
    file_id = sc.live[kind]
    key = _file_key(sc.url, file_id)
    with psycopg.connect(sc.url) as conn:
        kept_by = conn.execute(
            "SELECT referenced_by FROM dify_maintenance.file_candidates WHERE run_key = %s AND file_id = %s",
            (run["ctx"]["run_key"], file_id),
        ).fetchone()
    assert key is not None, f"{kind}: its row was deleted"
    assert _normalized(key) in tree(sc.root), f"{kind}: its object was moved"
    assert kept_by and kept_by[0], f"{kind}: judged an orphan"


def test_website_crawl_cache_is_kept_while_a_document_names_its_job(newest_run):
    sc, objects_before, run = newest_run
    assert sc.website_live in tree(sc.root)
    gone = [k for k in sc.unnamed_old if k.startswith("website_files/")]
    assert gone and not any(k in tree(sc.root) for k in gone)


def test_the_candidate_list_says_what_was_searched(newest_run, tmp_path):
    sc, _, run = newest_run
    ctx = run["ctx"]
    report_store = StoreConfig("fs", {"root": str(tmp_path)})
    info = orphans.write_csv(url_connector(sc.url), report_store, ctx)
    rows = orphans.csv_rows((tmp_path / info["key"]).read_bytes())
    sources = orphans.csv_rows((tmp_path / info["sources_key"]).read_bytes())
    assert rows and all("dify-file-ref" in r["searched"] for r in rows if r["kind"] != "object")
    names = {r["source"] for r in sources}
    assert {"conversations.inputs", "workflow_draft_variables.value", "tool_mcp_providers.icon"} <= names
    assert "workflow_node_execution_offload (payload)" in names
