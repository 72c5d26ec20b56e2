"""A generated Dify with its files on local disk, plus one file referenced through every reference
path, files left behind by a purge, files inside the grace period and unnamed objects; and an
oracle that finds every mention of a file id in the whole database, independently of the engine.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from devtools import generator
from dify_maintenance.core.db import url_connector
from dify_maintenance.files.stores import StoreConfig

# Where Dify rows name files (dify-facts §1.9 and §3.3, plus the paths Dify's own command misses).
# Written out here on purpose, not taken from the engine's catalog: a path the engine forgets
# must make the tests fail.
REFERENCE_PATHS = (
    ("message_files", "upload_file_id"),
    ("workflow_node_execution_offload", "file_id"),
    ("workflow_draft_variable_files", "upload_file_id"),
    ("segment_attachment_bindings", "attachment_id"),
    ("human_input_form_upload_files", "upload_file_id"),  # 1.15+
    ("agent_drive_files", "file_id"),  # 1.15+
    ("documents", "data_source_info"),
    ("document_segments", "content"),
    ("child_chunks", "content"),
    ("messages", "answer"),
    ("messages", "inputs"),
    ("messages", "message"),
    ("message_agent_thoughts", "message_files"),
    ("conversations", "introduction"),
    ("conversations", "system_instruction"),
    ("workflow_node_executions", "inputs"),
    ("workflow_node_executions", "process_data"),
    ("workflow_node_executions", "outputs"),
    ("workflow_runs", "inputs"),
    ("workflow_runs", "outputs"),
    ("workflow_draft_variables", "value"),
    ("workflow_conversation_variables", "data"),
    ("apps", "icon"),
    ("sites", "icon"),
    ("accounts", "avatar"),
)

OLD = timedelta(days=60)
YOUNG = timedelta(days=1)


@dataclass
class Scenario:
    url: str
    root: Path
    now: datetime  # naive UTC: "now" for the grace period
    referenced: dict[str, uuid.UUID] = field(default_factory=dict)  # source -> file id it references
    young_upload: uuid.UUID | None = None
    orphan_uploads: set[uuid.UUID] = field(default_factory=set)
    shared_key: str = ""
    unnamed_old: list[str] = field(default_factory=list)
    unnamed_young: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)
    live_tool: uuid.UUID | None = None
    orphan_tool: uuid.UUID | None = None

    @property
    def store(self) -> StoreConfig:
        return StoreConfig("fs", {"root": str(self.root)})


def _age(root: Path, key: str, moment: datetime) -> None:
    stamp = moment.replace(tzinfo=UTC).timestamp()
    os.utime(root / key, (stamp, stamp))


def _write(root: Path, key: str, moment: datetime, data: bytes | None = None) -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if data is not None else hashlib.sha256(key.encode()).digest() * 40)
    _age(root, key, moment)


def _dummy(data_type: str, udt: str, moment: datetime):
    if data_type == "uuid":
        return uuid.uuid4()
    if data_type in ("integer", "bigint", "smallint", "numeric", "double precision", "real"):
        return 0
    if data_type == "boolean":
        return False
    if data_type.startswith("timestamp") or data_type == "date":
        return moment
    if data_type in ("json", "jsonb"):
        return "{}"
    if data_type == "ARRAY":
        return "{}"
    return "x"


def _mention(data_type: str, max_len: int | None, file_id: uuid.UUID):
    """How Dify writes a file id into a column of this type."""
    if data_type == "uuid" or (max_len is not None and max_len < 200):
        return str(file_id)
    if data_type in ("json", "jsonb"):
        return json.dumps({"file": {"dify_model_identity": "__dify__file__", "related_id": str(file_id)}})
    return f"Here you go: ![chart](/files/{file_id}/file-preview?timestamp=1&sign=abc)"


def insert_referencing_row(conn: psycopg.Connection, table: str, column: str, file_id: uuid.UUID, moment: datetime) -> None:
    """A new row in ``table`` whose ``column`` mentions ``file_id``; other required columns get
    dummies, timestamps ``moment``."""
    cols = conn.execute(
        "SELECT column_name, data_type, udt_name, is_nullable, column_default, character_maximum_length "
        "FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s",
        (table,),
    ).fetchall()
    values = {}
    for name, data_type, udt, nullable, default, max_len in cols:
        if name == column:
            values[name] = _mention(data_type, max_len, file_id)
        elif data_type.startswith("timestamp"):
            values[name] = moment  # also where the database would default to its own now()
        elif nullable == "NO" and default is None:
            values[name] = _dummy(data_type, udt, moment)
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(sql.Placeholder() * len(values)),
    )
    conn.execute(query, list(values.values()))


def _upload(conn, root: Path, tenant: uuid.UUID, created: datetime, key: str | None = None) -> uuid.UUID:
    file_id = uuid.uuid4()
    key = key or f"upload_files/{tenant}/{uuid.uuid4()}.png"
    conn.execute(
        "INSERT INTO upload_files (id, tenant_id, storage_type, key, name, size, extension, created_by, created_at, used) "
        "VALUES (%s, %s, 'opendal', %s, 'f.png', 1280, 'png', %s, %s, true)",
        (file_id, tenant, key, uuid.uuid4(), created),
    )
    if not (root / key).exists():
        _write(root, key, created)
    return file_id


def build(url: str, root: Path, anchor: datetime, runs: int = 200) -> Scenario:
    """Generate Dify data whose uploads live under ``root``, then shape the orphan cases."""
    store = StoreConfig("fs", {"root": str(root)})
    generator.generate(url_connector(url), anchor=anchor, scale=generator.Scale(runs=runs, tenants=2), storage=store)
    sc = Scenario(url=url, root=root, now=anchor)
    with psycopg.connect(url, autocommit=True) as conn:
        # objects were written now: give each the age of its row, as in a real deployment
        for key, created in conn.execute("SELECT key, created_at FROM upload_files"):
            _age(root, key, created)
        tenant = conn.execute("SELECT id FROM tenants ORDER BY id LIMIT 1").fetchone()[0]
        snap_tables = {
            (t, c)
            for t, c in conn.execute("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema='public'")
        }
        # one old file per reference path, referenced only there
        for table, column in REFERENCE_PATHS:
            if (table, column) not in snap_tables:
                continue
            file_id = _upload(conn, root, tenant, anchor - OLD)
            insert_referencing_row(conn, table, column, file_id, anchor - YOUNG)
            sc.referenced[f"{table}.{column}"] = file_id
        # a purge removed the message files of older messages: their uploads are orphans now
        gone = conn.execute(
            "DELETE FROM message_files WHERE created_at < %s - interval '20 days' RETURNING upload_file_id", (anchor,)
        ).fetchall()
        sc.orphan_uploads = {r[0] for r in gone}
        # an upload inside the grace period that nothing references (still being attached)
        sc.young_upload = _upload(conn, root, tenant, anchor - YOUNG)
        # two rows share one object: one is orphaned, the other referenced, so the object stays
        sc.shared_key = f"upload_files/{tenant}/shared-{uuid.uuid4()}.pdf"
        sc.orphan_uploads.add(_upload(conn, root, tenant, anchor - OLD, key=sc.shared_key))
        keeper = _upload(conn, root, tenant, anchor - OLD, key=sc.shared_key)
        insert_referencing_row(conn, "messages", "answer", keeper, anchor - YOUNG)
        # tool files: one of a live conversation, one whose conversation is gone
        conversation = conn.execute("SELECT id FROM conversations LIMIT 1").fetchone()[0]
        for attr, conv in (("live_tool", conversation), ("orphan_tool", uuid.uuid4())):
            tool_id = uuid.uuid4()
            key = f"tools/{tenant}/{uuid.uuid4().hex}.png"
            conn.execute(
                "INSERT INTO tool_files (id, user_id, tenant_id, conversation_id, file_key, mimetype, name, size) "
                "VALUES (%s, %s, %s, %s, %s, 'image/png', 't.png', 1280)",
                (tool_id, uuid.uuid4(), tenant, conv, key),
            )
            _write(root, key, anchor - OLD)
            setattr(sc, attr, tool_id)
    # objects no row names
    for i in range(4):
        key = f"upload_files/{tenant}/lost-{i}.bin"
        _write(root, key, anchor - OLD)
        sc.unnamed_old.append(key)
    key = f"image_files/{tenant}/extracted-old.png"
    _write(root, key, anchor - OLD)
    sc.unnamed_old.append(key)
    for i in range(2):
        key = f"upload_files/{tenant}/in-flight-{i}.bin"
        _write(root, key, anchor - YOUNG)
        sc.unnamed_young.append(key)
    for key in (f"privkeys/{tenant}/private.pem", ".dify_secret_key"):
        _write(root, key, anchor - OLD)
        sc.protected.append(key)
    return sc


def mentioned_ids(url: str, ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """The oracle: which of ``ids`` appear anywhere in any row of any Dify table other than the
    file tables (a whole-row text search, knowing nothing of reference paths)."""
    if not ids:
        return set()
    wanted = [str(i) for i in ids]
    found: set[uuid.UUID] = set()
    with psycopg.connect(url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ('upload_files', 'tool_files')"
            )
        ]
        for table in tables:
            query = sql.SQL("SELECT w FROM {} AS t, unnest(%s::text[]) AS w WHERE strpos(lower(t::text), w) > 0").format(
                sql.Identifier(table)
            )
            found |= {uuid.UUID(r[0]) for r in conn.execute(query, (wanted,))}
    return found


def tree(root: Path) -> dict[str, str]:
    """Every object under ``root`` (our own state folder excluded) with its sha256."""
    out = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith("_dify_maintenance/"):
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def file_rows(url: str) -> dict[str, str]:
    """A checksum of every row of the file tables, by table."""
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(
                sql.SQL("SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), '')) FROM {} AS t").format(
                    sql.Identifier(table)
                )
            ).fetchone()[0]
            for table in ("upload_files", "tool_files")
        }
