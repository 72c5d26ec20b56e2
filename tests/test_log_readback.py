"""Dify's reader is the contract: after a migration, the cluster answers the queries Dify's
Elasticsearch repositories make (run by id, the run list paged by the last run, a run's node
executions by ``workflow_execution_id`` sorted by ``index``, app logs by id and paged by offset)
with what PostgreSQL holds, field by field as Dify parses it (naive ISO datetimes through
``datetime.fromisoformat``, payloads as the JSON objects their text holds, no key for a NULL, an
empty string kept), on every real schema dump. Plus what Dify's reader needs of single documents:
an empty title kept, NaN refused, our templates beside Dify's own."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from support.data import ANCHOR
from support.env import ALL_DUMPS
from support.logstore import ElasticsearchFace, cluster_for

from devtools import fixtures, generator
from dify_maintenance.core.db import url_connector
from dify_maintenance.logstore import migrate
from dify_maintenance.logstore.cluster import identify
from dify_maintenance.logstore.documents import DATA_TYPES, dify_template_name, template_name
from dify_maintenance.storage.stores import StoreConfig

SCALE = generator.Scale(runs=60, tenants=2)
PAGE = 20


def _migrate(url: str, config, read=None) -> dict:
    client = config.client()
    info = identify(client, config)
    req = migrate.request_from({"dry_run": False}, config, migrate.database_now(url_connector(url)))
    planned = migrate.plan(url_connector(url), req, client, config, info)
    results = [
        migrate.migrate_partition(url_connector(url), client, config, req, part, read, info=info)
        for part in planned["partitions"]
    ]
    client.indices.refresh(index="dify-*")
    return {"window_end": req.window_end, "results": results}


def _as_dify_reads(name: str, row: dict, offloaded: dict) -> dict:
    """A PostgreSQL row as Dify's reader should get it back from the document."""
    dt = DATA_TYPES[name]
    out = {}
    for column, value in row.items():
        if column in offloaded:
            value = offloaded[column]
        elif column in dt.payloads and isinstance(value, str):
            value = json.loads(value) if value else None
        if value is None:
            continue
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, Decimal):
            value = float(value)
        out[dt.field(column)] = value
    return out


def _parse_like_dify(name: str, source: dict, row: dict) -> dict:
    """A document's source as Dify's reader parses it: datetimes with ``fromisoformat`` (naive)."""
    out = {}
    for key, value in source.items():
        if isinstance(row.get(key), datetime):
            parsed = datetime.fromisoformat(value)
            assert parsed.tzinfo is None, f"{name}.{key} is not naive: {value!r}"
            value = parsed
        out[key] = value
    return out


def _search_all(client, index: str, query: dict, sort: list, size: int = PAGE) -> list[dict]:
    """Pages the way Dify's run list does: ``search_after`` on the last hit's sort values."""
    hits, after = [], None
    while True:
        body = {"query": query, "sort": sort, "size": size}
        if after:
            body["search_after"] = after
        page = client.search(index=index, body=body, ignore_unavailable=True, allow_no_indices=True)["hits"]["hits"]
        hits.extend(page)
        if len(page) < size:
            return hits
        after = page[-1]["sort"]


@pytest.mark.skipif(not ALL_DUMPS, reason="real schema dumps not found")
@pytest.mark.parametrize("dump", ALL_DUMPS, ids=[d.stem for d in ALL_DUMPS])
def test_dify_reads_back_every_field_on_every_dump(dump, databases, cluster_server, tmp_path):
    url = databases.fresh(empty=True)
    fixtures.load_dump(url, dump)
    generator.generate(url_connector(url), anchor=ANCHOR, scale=SCALE)
    storage = StoreConfig("fs", {"root": str(tmp_path / "storage")})
    generator.write_offload_payloads(url_connector(url), storage)
    op = storage.operator()
    with cluster_server.clone() as clone:
        face = ElasticsearchFace(clone.url)
        client = cluster_for(face.url).client()
        done = _migrate(url, cluster_for(face.url), lambda key: bytes(op.read(key)))
        assert sum(r["rejected_total"] for r in done["results"]) == 0
        with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
            settled = {"lo": done["window_end"]}
            runs = conn.execute("select * from workflow_runs where created_at < %(lo)s", settled).fetchall()
            nodes = conn.execute("select * from workflow_node_executions where created_at < %(lo)s", settled).fetchall()
            logs = (
                conn.execute("select * from workflow_app_logs where created_at < %(lo)s", settled).fetchall()
                if conn.execute("select to_regclass('workflow_app_logs') is not null as e").fetchone()["e"]
                else []
            )
            offloaded: dict[str, dict] = {}
            if conn.execute("select to_regclass('workflow_node_execution_offload') is not null as e").fetchone()["e"]:
                for r in conn.execute(
                    "select o.node_execution_id::text as id, o.type, f.key from workflow_node_execution_offload o "
                    "join upload_files f on f.id = o.file_id"
                ).fetchall():
                    offloaded.setdefault(r["id"], {})[r["type"]] = json.loads(bytes(op.read(r["key"])))
        assert runs and nodes

        # a run by id, in its tenant's run indices
        for run in runs:
            index = f"dify-workflow-runs-{run['tenant_id']}-*"
            query = {"bool": {"filter": [{"term": {"id": str(run["id"])}}, {"term": {"tenant_id": str(run["tenant_id"])}}]}}
            hits = client.search(index=index, body={"query": query})["hits"]["hits"]
            assert len(hits) == 1, run["id"]
            assert _parse_like_dify("workflow_runs", hits[0]["_source"], run) == _as_dify_reads("workflow_runs", run, {})

        # the run list per app and trigger, newest first, paged by the last run: PostgreSQL's order
        groups: dict[tuple, list[dict]] = {}
        for run in runs:
            groups.setdefault((str(run["tenant_id"]), str(run["app_id"]), run["triggered_from"]), []).append(run)
        for (tenant, app, trigger), members in groups.items():
            query = {"bool": {"filter": [{"term": {"app_id": app}}, {"term": {"triggered_from": trigger}}]}}
            hits = _search_all(client, f"dify-workflow-runs-{tenant}-*", query, [{"created_at": "desc"}, {"id": "desc"}])
            expected = sorted(members, key=lambda r: (r["created_at"], str(r["id"])), reverse=True)
            assert [h["_id"] for h in hits] == [str(r["id"]) for r in expected]

        # a run's node executions by workflow_execution_id, sorted by index
        by_run: dict[str, list[dict]] = {}
        for node in nodes:
            if node["workflow_run_id"] is not None:
                by_run.setdefault(str(node["workflow_run_id"]), []).append(node)
        for run_id, members in by_run.items():
            tenant = str(members[0]["tenant_id"])
            query = {"bool": {"filter": [{"term": {"workflow_execution_id": run_id}}]}}
            hits = _search_all(
                client, f"dify-workflow-node-executions-{tenant}-*", query, [{"index": "desc"}, {"id": "desc"}], 100
            )
            expected = sorted(members, key=lambda n: (n["index"], str(n["id"])), reverse=True)
            assert [h["_id"] for h in hits] == [str(n["id"]) for n in expected]
            for hit, node in zip(hits, expected, strict=True):
                got = _parse_like_dify(
                    "node_executions", hit["_source"], {DATA_TYPES["node_executions"].field(k): v for k, v in node.items()}
                )
                assert got == _as_dify_reads("node_executions", node, offloaded.get(str(node["id"]), {})), node["id"]
                assert "title" in hit["_source"]  # Dify's node list reads source["title"]

        # app logs by id, and paged by offset for an app
        apps: dict[tuple, list[dict]] = {}
        for entry in logs:
            tenant = str(entry["tenant_id"])
            hit = client.get(index=f"dify-workflow-app-logs-{tenant}-{entry['created_at']:%Y.%m}", id=str(entry["id"]))
            assert _parse_like_dify("app_logs", hit["_source"], entry) == _as_dify_reads("app_logs", entry, {})
            apps.setdefault((tenant, str(entry["app_id"])), []).append(entry)
        for (tenant, app), members in apps.items():
            expected = [str(e["id"]) for e in sorted(members, key=lambda e: (e["created_at"], str(e["id"])), reverse=True)]
            got: list[str] = []
            while True:
                body = {
                    "query": {"bool": {"filter": [{"term": {"app_id": app}}]}},
                    "sort": [{"created_at": "desc"}, {"id": "desc"}],
                    "from": len(got),
                    "size": PAGE,
                }
                page = client.search(index=f"dify-workflow-app-logs-{tenant}-*", body=body)["hits"]["hits"]
                got.extend(h["_id"] for h in page)
                if len(page) < PAGE:
                    break
            assert got == expected
        face.close()


def test_documents_as_dify_writes_them(databases, cluster_server, tmp_path):
    url = databases.fresh(empty=True)
    fixtures.load_sql(url, fixtures.fixture_schema("1.14"))
    generator.generate(url_connector(url), anchor=ANCHOR, scale=generator.Scale(runs=30, tenants=1))
    storage = StoreConfig("fs", {"root": str(tmp_path / "storage")})
    generator.write_offload_payloads(url_connector(url), storage)
    op = storage.operator()
    with psycopg.connect(url) as conn:
        titled, nan = (
            r[0]
            for r in conn.execute(
                "select id::text from workflow_node_executions where created_at < %s order by id limit 2",
                (ANCHOR - timedelta(days=2),),
            ).fetchall()
        )
        conn.execute("update workflow_node_executions set title = '' where id = %s::uuid", (titled,))
        conn.execute("""update workflow_node_executions set outputs = '{"score": NaN}' where id = %s::uuid""", (nan,))
    with cluster_server.clone() as clone:
        face = ElasticsearchFace(clone.url)
        config = cluster_for(face.url)
        client = config.client()
        # Dify put its own templates at its start; ours sit beside them under our own names
        dt = DATA_TYPES["node_executions"]
        client.indices.put_index_template(
            name=dify_template_name("dify", dt), body={"index_patterns": ["dify-workflow-node-executions-*"]}
        )
        done = _migrate(url, config, lambda key: bytes(op.read(key)))
        rejects = [r for res in done["results"] for r in res["rejects"]]
        assert [r["id"] for r in rejects] == [nan] and "NaN" in rejects[0]["reason"]
        names = {t["name"] for t in client.indices.get_index_template()["index_templates"]}
        assert {template_name("dify", dt), dify_template_name("dify", dt)} <= names
        source = client.search(index="dify-workflow-node-executions-*", body={"query": {"ids": {"values": [titled]}}})["hits"][
            "hits"
        ][0]["_source"]
        assert source["title"] == ""  # kept: Dify's node list reads it directly
        assert "Z" not in source["created_at"] and "+" not in source["created_at"]
        assert datetime.fromisoformat(source["created_at"]).tzinfo is None
        face.close()


def test_a_document_over_the_request_limit_is_a_reject_and_the_stream_moves_on(databases, cluster_server, tmp_path):
    url = databases.fresh(empty=True)
    fixtures.load_sql(url, fixtures.fixture_schema("1.14"))
    generator.generate(url_connector(url), anchor=ANCHOR, scale=generator.Scale(runs=30, tenants=1))
    with psycopg.connect(url) as conn:
        big = conn.execute(
            "select id::text from workflow_runs where created_at < %s order by created_at limit 1", (ANCHOR - timedelta(days=2),)
        ).fetchone()[0]
        conn.execute("update workflow_runs set outputs = %s where id = %s::uuid", (json.dumps({"text": "x" * 300_000}), big))
        total = conn.execute("select count(*) from workflow_runs where created_at < %s", (ANCHOR - migrate.SETTLE,)).fetchone()[0]
    with cluster_server.clone() as clone:
        face = ElasticsearchFace(clone.url, max_content_length=200_000)
        config = cluster_for(face.url)
        client = config.client()
        assert identify(client, config).max_content_length == 200_000
        done = _migrate(url, config)
        runs = [r for r in done["results"] if r["data_type"] == "workflow_runs"]
        rejects = [x for r in runs for x in r["rejects"]]
        assert [x["id"] for x in rejects] == [big] and "http.max_content_length" in rejects[0]["reason"]
        assert client.count(index="dify-workflow-runs-*")["count"] == total - 1  # every other run arrived
        assert all(size <= 200_000 for method, path, size in face.requests if path.startswith("/_bulk"))
        face.close()
