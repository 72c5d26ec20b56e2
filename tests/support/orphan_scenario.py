"""A generated Dify with its files on local disk, plus one live file for every way Dify names a
file (an id in a column, a File object, a base64 ``dify-file-ref:``, an offloaded payload, a paused
run's state, a website crawl's cache, a key with doubled slashes), files left behind by a purge,
files inside the grace period and unnamed objects; and an oracle that finds every mention of a
file in the whole database and in the payload objects live rows point at, written here on its
own (it shares nothing with the engine's catalog or SQL).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

from devtools import generator
from dify_maintenance.core.db import url_connector
from dify_maintenance.storage.stores import StoreConfig

# Where Dify rows name files with the id in plain text (Dify's source, every release to 1.16.1,
# plus the paths Dify's own command misses). Written out here on purpose, not taken from the
# engine's catalog: a path the engine forgets must make the tests fail.
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
    # found in Dify's source after the 1.16.1 review
    ("tool_mcp_providers", "icon"),  # an image icon is the plain upload id
    ("pipeline_customized_templates", "icon"),
    ("human_input_forms", "submitted_data"),
    ("agents", "icon"),
    ("customized_snippets", "icon_info"),
    ("messages", "message_metadata"),  # retrieved knowledge images
    ("messages", "override_model_configs"),
    ("message_files", "url"),  # /files/tools/<id>
    ("workflow_runs", "graph"),  # the run's copy of file defaults
    ("workflow_node_executions", "execution_metadata"),
    ("workflow_trigger_logs", "trigger_data"),
    ("dataset_queries", "content"),
    ("document_pipeline_execution_logs", "datasource_info"),
    ("human_input_forms", "rendered_content"),
    ("agent_config_snapshots", "config_snapshot"),
    ("workflow_agent_node_bindings", "node_job_config"),
)


def file_ref(record_id: str, storage_key: str | None = None, padded: bool = True) -> str:
    """A Dify 1.14+ file reference: ``dify-file-ref:`` and base64url of compact JSON."""
    payload = {"record_id": record_id} | ({"storage_key": storage_key} if storage_key else {})
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()
    return "dify-file-ref:" + (body if padded else body.rstrip("="))


def file_dump(file_id: uuid.UUID, transfer_method: str = "local_file") -> dict:
    """``File.model_dump()`` as Dify 1.14 to 1.16 store a file input: the id only inside ``reference``."""
    return {
        "dify_model_identity": "__dify__file__",
        "id": None,
        "type": "image",
        "transfer_method": transfer_method,
        "remote_url": "",
        "reference": file_ref(str(file_id)),
        "filename": "photo.png",
        "extension": ".png",
        "mime_type": "image/png",
        "size": 1280,
    }


# The files Dify 1.14+ names only through a dify-file-ref (no plain id anywhere in the row):
# (kind, table, column, the column's value for a file id).
REF_FORMS = (
    ("conversation file input", "conversations", "inputs", lambda f: json.dumps({"doc": file_dump(f)})),
    ("message file input", "messages", "inputs", lambda f: json.dumps({"doc": file_dump(f)})),
    ("message file-list input", "messages", "inputs", lambda f: json.dumps({"docs": [file_dump(uuid.uuid4()), file_dump(f)]})),
    ("draft variable", "workflow_draft_variables", "value", lambda f: json.dumps(file_dump(f))),
    ("trigger log outputs", "workflow_trigger_logs", "outputs", lambda f: json.dumps({"files": [file_dump(f)]})),
    ("agent session prompt", "agent_runtime_sessions", "session_snapshot", lambda f: f"look at {file_ref(str(f))} please"),
    (
        "human input, unpadded ref",
        "human_input_forms",
        "submitted_data",
        lambda f: json.dumps({"a": file_ref(str(f), padded=False)}),
    ),
)

OLD = timedelta(days=60)
YOUNG = timedelta(days=1)


@dataclass
class Scenario:
    url: str
    root: Path
    now: datetime  # naive UTC: "now" for the grace period
    referenced: dict[str, uuid.UUID] = field(default_factory=dict)  # source -> file id it references
    live: dict[str, uuid.UUID] = field(default_factory=dict)  # reference kind -> the file only it names
    young_upload: uuid.UUID | None = None
    orphan_uploads: set[uuid.UUID] = field(default_factory=set)
    shared_key: str = ""
    unnamed_old: list[str] = field(default_factory=list)
    unnamed_young: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)
    live_tool: uuid.UUID | None = None
    orphan_tool: uuid.UUID | None = None
    website_live: str = ""
    state_key: str = ""

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


def insert_referencing_row(
    conn: psycopg.Connection,
    table: str,
    column: str,
    file_id: uuid.UUID | None,
    moment: datetime,
    value: str | None = None,
    extra: dict | None = None,
) -> None:
    """A new row in ``table`` whose ``column`` mentions ``file_id`` (or holds ``value``); ``extra``
    sets other columns; other required columns get dummies, timestamps ``moment``."""
    cols = conn.execute(
        "SELECT column_name, data_type, udt_name, is_nullable, column_default, character_maximum_length "
        "FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s",
        (table,),
    ).fetchall()
    values = {}
    for name, data_type, udt, nullable, default, max_len in cols:
        if extra and name in extra:
            values[name] = extra[name]
        elif name == column:
            values[name] = value if value is not None else _mention(data_type, max_len, file_id)
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


def _upload(
    conn, root: Path, tenant: uuid.UUID, created: datetime, key: str | None = None, data: bytes | None = None
) -> uuid.UUID:
    file_id = uuid.uuid4()
    key = key or f"upload_files/{tenant}/{uuid.uuid4()}.png"
    conn.execute(
        "INSERT INTO upload_files (id, tenant_id, storage_type, key, name, size, extension, created_by, created_at, used) "
        "VALUES (%s, %s, 'opendal', %s, 'f.png', 1280, 'png', %s, %s, true)",
        (file_id, tenant, key, uuid.uuid4(), created),
    )
    if not (root / key).exists():
        _write(root, key, created, data)
    return file_id


def _tool_file(conn, root: Path, tenant: uuid.UUID, conversation: uuid.UUID, moment: datetime) -> uuid.UUID:
    tool_id = uuid.uuid4()
    key = f"tools/{tenant}/{uuid.uuid4().hex}.png"
    conn.execute(
        "INSERT INTO tool_files (id, user_id, tenant_id, conversation_id, file_key, mimetype, name, size) "
        "VALUES (%s, %s, %s, %s, %s, 'image/png', 't.png', 1280)",
        (tool_id, uuid.uuid4(), tenant, conversation, key),
    )
    _write(root, key, moment)
    return tool_id


def _dify_forms(conn, sc: Scenario, root: Path, tenant: uuid.UUID, anchor: datetime, columns: set) -> None:
    """One live file for every form Dify 1.14 to 1.16 writes beyond a plain id."""
    old, young = anchor - OLD, anchor - YOUNG
    for kind, table, column, value in REF_FORMS:
        if (table, column) in columns:
            file_id = _upload(conn, root, tenant, old)
            insert_referencing_row(conn, table, column, None, young, value=value(file_id))
            sc.live[kind] = file_id
    if ("workflow_draft_variables", "value") in columns:
        # a reference whose record id is not a file's, with the storage key: names the object by key
        key = f"upload_files/{tenant}/{uuid.uuid4()}.png"
        sc.live["storage key in a ref"] = _upload(conn, root, tenant, old, key=key)
        value = json.dumps({"reference": file_ref("legacy-record", storage_key=key)})
        insert_referencing_row(conn, "workflow_draft_variables", "value", None, young, value=value)
        # a tool file (its conversation gone) named only by a ref
        tool_id = _tool_file(conn, root, tenant, uuid.uuid4(), old)
        value = json.dumps(file_dump(tool_id, "tool_file"))
        insert_referencing_row(conn, "workflow_draft_variables", "value", None, young, value=value)
        sc.live["tool file by ref"] = tool_id
    node = conn.execute("SELECT id, tenant_id, app_id FROM workflow_node_executions ORDER BY created_at DESC LIMIT 1").fetchone()
    if ("workflow_node_execution_offload", "file_id") in columns:
        # a tool node's 1,003 output files: the column keeps 1,000 items, the object all of them
        past_cut = [_upload(conn, root, tenant, old) for _ in range(3)]
        items = [{"text": f"item {i}"} for i in range(1000)] + [file_dump(f) | {"related_id": str(f)} for f in past_cut]
        data = json.dumps({"files": items}).encode()
        payload = _upload(conn, root, tenant, old, key=f"upload_files/{tenant}/{uuid.uuid4()}.json", data=data)
        extra = {"node_execution_id": node[0], "tenant_id": node[1], "app_id": node[2], "type": "outputs"}
        insert_referencing_row(conn, "workflow_node_execution_offload", "file_id", payload, young, extra=extra)
        for i, file_id in enumerate(past_cut):
            sc.live[f"offloaded node output, file {1001 + i}"] = file_id
    if ("workflow_draft_variable_files", "upload_file_id") in columns:
        file_id = _upload(conn, root, tenant, old)
        data = json.dumps({"value": [file_dump(file_id)]}).encode()
        payload = _upload(conn, root, tenant, old, key=f"upload_files/{tenant}/{uuid.uuid4()}.json", data=data)
        extra = {"tenant_id": node[1], "app_id": node[2], "value_type": "array[file]"}
        insert_referencing_row(conn, "workflow_draft_variable_files", "upload_file_id", payload, young, extra=extra)
        sc.live["offloaded draft variable"] = file_id
    if ("workflow_pauses", "state_object_key") in columns:
        file_id = _upload(conn, root, tenant, old)
        key = f"workflow-state-{uuid.uuid4()}.json"
        _write(root, key, old, json.dumps({"variable_pool": {"sys": {"files": [file_dump(file_id)]}}}).encode())
        run = conn.execute(
            "SELECT id FROM workflow_runs WHERE id NOT IN (SELECT workflow_run_id FROM workflow_pauses) LIMIT 1"
        ).fetchone()[0]
        insert_referencing_row(
            conn, "workflow_pauses", "state_object_key", None, young, value=key, extra={"workflow_run_id": run}
        )
        sc.live["paused run's state"] = file_id
        sc.state_key = key
    # a website crawl's cache, named by a document's job id; and one no document names any more
    job = f"job-{uuid.uuid4().hex}"
    sc.website_live = f"website_files/{job}.txt"
    _write(root, sc.website_live, old)
    info = json.dumps({"url": "https://example.com", "provider": "firecrawl", "job_id": job, "mode": "crawl"})
    insert_referencing_row(
        conn, "documents", "data_source_info", None, young, value=info, extra={"data_source_type": "website_crawl"}
    )
    gone = f"website_files/job-{uuid.uuid4().hex}.txt"
    _write(root, gone, old)
    sc.unnamed_old.append(gone)
    # keys with doubled slashes (Dify stores what it was given; storage lists them with one)
    doubled = f"upload_files/{tenant}//doubled-{uuid.uuid4()}.png"
    sc.live["key with //"] = _upload(conn, root, tenant, old, key=doubled)
    insert_referencing_row(conn, "message_files", "upload_file_id", sc.live["key with //"], young)
    sc.orphan_uploads.add(_upload(conn, root, tenant, old, key=f"upload_files/{tenant}//doubled-orphan-{uuid.uuid4()}.png"))


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
        sc.live_tool = _tool_file(conn, root, tenant, conversation, anchor - OLD)
        sc.orphan_tool = _tool_file(conn, root, tenant, uuid.uuid4(), anchor - OLD)
        _dify_forms(conn, sc, root, tenant, anchor, snap_tables)
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


_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_REF = re.compile(r"dify-file-ref:([A-Za-z0-9_-]+)")


def _normalized(key: str) -> str:
    return re.sub("/{2,}", "/", key.lstrip("/"))


def _names(text: str, ids: set[str], keys: set[str]) -> None:
    """Every file id in ``text``, and the record id and storage key of every dify-file-ref."""
    ids.update(m.lower() for m in _UUID.findall(text))
    for body in _REF.findall(text):
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("record_id"), str):
            ids.add(data["record_id"].lower())
        if isinstance(data, dict) and isinstance(data.get("storage_key"), str):
            keys.add(_normalized(data["storage_key"]))


def _payload_keys(conn) -> list[str]:
    """The objects live rows point at whose content is a value Dify cut short (offloads) or a
    paused run's state."""
    tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    keys = []
    if "workflow_node_execution_offload" in tables:
        keys += [
            r[0]
            for r in conn.execute("SELECT u.key FROM workflow_node_execution_offload o JOIN upload_files u ON u.id = o.file_id")
        ]
    if "workflow_draft_variable_files" in tables:
        keys += [
            r[0]
            for r in conn.execute(
                "SELECT u.key FROM workflow_draft_variable_files f JOIN upload_files u ON u.id = f.upload_file_id"
            )
        ]
    if "workflow_pauses" in tables:
        keys += [r[0] for r in conn.execute("SELECT state_object_key FROM workflow_pauses")]
    return keys


def mentioned_ids(url: str, ids: set[uuid.UUID], root: Path | None = None) -> set[uuid.UUID]:
    """The oracle: which of ``ids`` (upload or tool file ids) appear anywhere in any row of any Dify
    table other than the file tables (a whole-row text search, knowing nothing of reference
    paths), as a plain id or inside a dify-file-ref, or whose key a dify-file-ref names; and, with
    ``root`` (Dify's storage folder), anywhere in the payload objects live rows point at."""
    if not ids:
        return set()
    named_ids: set[str] = set()
    named_keys: set[str] = set()
    with psycopg.connect(url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ('upload_files', 'tool_files')"
            )
        ]
        for table in tables:
            for (text,) in conn.execute(sql.SQL("SELECT t::text FROM {} AS t").format(sql.Identifier(table))):
                _names(text, named_ids, named_keys)
        if root is not None:
            for key in _payload_keys(conn):
                path = root / _normalized(key)
                if path.is_file():
                    _names(path.read_text(errors="replace"), named_ids, named_keys)
        by_key = conn.execute("SELECT id, key FROM upload_files UNION ALL SELECT id, file_key FROM tool_files").fetchall()
    found = {i for i in ids if str(i) in named_ids}
    return found | {i for i, key in by_key if i in ids and _normalized(key) in named_keys}


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
