"""Workflow logs to an OpenSearch-compatible cluster (osmem-server on 127.0.0.1): the DAGs end to
end on the 0.15.3 and 1.14.1 dumps (migrate → validate → cleanup-pg, exact round trip), a
SIGKILL mid-stream, the cluster going away mid-bulk, a rejected document, an altered document
failing validation and cleanup-pg refusing, status and index retention."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from airflow.utils.state import DagRunState
from support.data import ANCHOR
from support.env import SHARED_SCHEMAS
from support.logstore import Relay, airflow_conn, cluster_for

from devtools import fixtures, generator
from dify_maintenance.core.db import connection, url_connector
from dify_maintenance.logstore import indices, migrate, validate
from dify_maintenance.logstore.cluster import ClusterUnavailable
from dify_maintenance.logstore.documents import DATA_TYPES, normalized, to_document
from dify_maintenance.storage.stores import StoreConfig

ROOT = Path(__file__).resolve().parents[1]
DUMPS = [SHARED_SCHEMAS / f"dify-{v}.sql" for v in ("0.15.3", "1.14.1")]
SCALE = generator.Scale(runs=200, tenants=2)


def _database(databases, dump: Path | None, tmp_path: Path) -> tuple[str, StoreConfig]:
    url = databases.fresh(empty=True)
    if dump is None:
        fixtures.load_sql(url, fixtures.fixture_schema("1.14"))
    else:
        fixtures.load_dump(url, dump)
    generator.generate(url_connector(url), anchor=ANCHOR, scale=SCALE)
    storage = StoreConfig("fs", {"root": str(tmp_path / "dify-storage")})
    generator.write_offload_payloads(url_connector(url), storage)
    return url, storage


def _pg_documents(url: str, moment_before=None) -> dict[str, dict[str, dict]]:
    """Every row of the three tables as the document it should be (offloads inlined from the fs)."""
    found: dict[str, dict[str, dict]] = {}
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        for name, dt in DATA_TYPES.items():
            exists = conn.execute("select to_regclass(%s) is not null as e", (dt.table,)).fetchone()["e"]
            if not exists:
                continue
            rows = conn.execute(f"select * from {dt.table}").fetchall()  # noqa: S608 - our own table names
            found[name] = {str(r["id"]): r for r in rows if moment_before is None or r["created_at"] < moment_before}
    return found


def _cluster_source(client, ids: list[str], prefix: str = "dify") -> dict[str, dict]:
    got = {}
    for start in range(0, len(ids), 1000):
        body = {"query": {"ids": {"values": ids[start : start + 1000]}}, "size": 1000}
        for hit in client.search(index=f"{prefix}-*", body=body)["hits"]["hits"]:
            got[hit["_id"]] = hit["_source"]
    return got


def _offloads(url: str, storage: StoreConfig) -> dict[str, dict]:
    """node execution id -> {column: payload} as stored (what the document must inline)."""
    op = storage.operator()
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        if not conn.execute("select to_regclass('workflow_node_execution_offload') is not null as e").fetchone()["e"]:
            return {}
        rows = conn.execute(
            "select o.node_execution_id::text as id, o.type, f.key from workflow_node_execution_offload o "
            "join upload_files f on f.id = o.file_id"
        ).fetchall()
    out: dict[str, dict] = {}
    for r in rows:
        out.setdefault(r["id"], {})[r["type"]] = json.loads(bytes(op.read(r["key"])))
    return out


@pytest.mark.skipif(not all(d.exists() for d in DUMPS), reason=f"real schema dumps not found in {SHARED_SCHEMAS}")
@pytest.mark.parametrize("dump", DUMPS, ids=[d.stem for d in DUMPS])
def test_migrate_validate_cleanup_round_trip(dump, databases, run_dag, es, monkeypatch, tmp_path):
    cluster = es
    url, storage = _database(databases, dump, tmp_path)
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_LOG_STORE", airflow_conn(cluster.url))
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_STORAGE", json.dumps({"conn_type": "fs", "extra": {"root": storage.options["root"]}}))
    client = cluster_for(cluster.url).client()

    # the default run is a dry run: it sizes the work and writes nothing anywhere
    dr, xcoms, states = run_dag("dify_log_migration", url)
    assert dr.state == DagRunState.SUCCESS, (states, xcoms["errors"])
    planned = xcoms["plan"]
    assert planned["dry_run"] and planned["documents"] > 0
    assert client.cat.indices(format="json") == []

    dr, xcoms, states = run_dag("dify_log_migration", url, conf={"dry_run": False, "batch_mb": 1})
    assert dr.state == DagRunState.SUCCESS, (states, xcoms["errors"])
    assert xcoms["report"]["validation"] == "passed"
    assert xcoms["report"]["rejected"] == 0
    runs = [t for t in xcoms["status"]["tenants"] if t["data_type"] == "workflow_runs"]
    with psycopg.connect(url) as conn:
        late = conn.execute("select count(*) from workflow_runs where created_at >= %s", (ANCHOR - migrate.SETTLE,)).fetchone()[0]
    assert sum(t["left"] for t in runs) == late  # only the last hour's rows wait for the next run
    window_end = ANCHOR - migrate.SETTLE
    expected = _pg_documents(url, window_end)
    offloaded = _offloads(url, storage)
    assert (len(offloaded) > 0) == (dump.stem == "dify-1.14.1")
    client.indices.refresh(index="dify-*")
    for name, rows in expected.items():
        dt = DATA_TYPES[name]
        got = _cluster_source(client, list(rows))
        assert set(got) == set(rows), name  # every row, nothing else
        for doc_id, row in rows.items():
            assert got[doc_id] == normalized(to_document(dt, row, offloaded.get(doc_id))), (name, doc_id)
    # Dify's index names, per tenant and month, with its settings back after the load
    names = {e["index"] for e in client.cat.indices(format="json")}
    row = next(iter(expected["workflow_runs"].values()))
    assert f"dify-workflow-runs-{row['tenant_id']}-{row['created_at']:%Y.%m}" in names
    settings = client.indices.get_settings(index=sorted(names)[0])
    assert next(iter(settings.values()))["settings"]["index"]["refresh_interval"] == "5s"
    if offloaded:
        some = next(iter(offloaded))
        assert _cluster_source(client, [some])[some]["outputs"] == offloaded[some]["outputs"]

    # cleanup-pg: a real run needs the database's name; then it deletes only rows before the date
    before = (ANCHOR - timedelta(days=40)).date()
    database = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    conf = {"before_date": before.isoformat(), "dry_run": False}
    dr, xcoms, _ = run_dag("dify_log_cleanup_pg", url, conf=conf, archive_root=tmp_path / "arch")
    assert dr.state == DagRunState.FAILED and "confirm_database" in xcoms["errors"]["preflight"]
    dr, xcoms, states = run_dag(
        "dify_log_cleanup_pg", url, conf={**conf, "confirm_database": database}, archive_root=tmp_path / "arch"
    )
    assert dr.state == DagRunState.SUCCESS, (states, xcoms["errors"])
    assert xcoms["report"]["total_deleted"] > 0
    after = _pg_documents(url)
    for name, rows in expected.items():
        gone = set(rows) - set(after.get(name, {}))
        cutoff = datetime.combine(before, datetime.min.time())
        assert all(rows[i]["created_at"] < cutoff for i in gone), name  # nothing newer than before_date
        assert gone or name == "app_logs", name
        got = _cluster_source(client, sorted(gone))
        # the round trip is exact: every deleted row is in the cluster, field for field
        assert {i: got.get(i) for i in gone} == {
            i: normalized(to_document(DATA_TYPES[name], rows[i], offloaded.get(i))) for i in gone
        }, name


def test_cleanup_refuses_without_a_passing_validation(databases, run_dag, es, monkeypatch, tmp_path):
    cluster = es
    url, storage = _database(databases, None, tmp_path)
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_LOG_STORE", airflow_conn(cluster.url))
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_STORAGE", json.dumps({"conn_type": "fs", "extra": {"root": storage.options["root"]}}))
    database = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    conf = {"before_date": (ANCHOR - timedelta(days=40)).date().isoformat(), "dry_run": False, "confirm_database": database}
    counts = _counts(url)

    dr, xcoms, _ = run_dag("dify_log_cleanup_pg", url, conf=conf, archive_root=tmp_path / "arch")
    assert dr.state == DagRunState.FAILED and "no validation of this cluster" in xcoms["errors"]["preflight"]

    dr, xcoms, states = run_dag("dify_log_migration", url, conf={"dry_run": False})
    assert dr.state == DagRunState.SUCCESS, (states, xcoms["errors"])
    # someone alters a document in the cluster: the next validation must see it
    client = cluster_for(cluster.url).client()
    victim = next(iter(_pg_documents(url)["workflow_runs"].values()))
    index = f"dify-workflow-runs-{victim['tenant_id']}-{victim['created_at']:%Y.%m}"
    source = client.get(index=index, id=str(victim["id"]))["_source"]
    client.index(index=index, id=str(victim["id"]), body={**source, "status": "altered"}, refresh=True)

    dr, xcoms, _ = run_dag("dify_log_migration", url, conf={"dry_run": False})
    assert dr.state == DagRunState.FAILED
    runs = next(d for d in xcoms["validate_window"]["data_types"] if d["data_type"] == "workflow_runs")
    assert {"id": str(victim["id"]), "field": "status", "expected": victim["status"], "found": "altered"} in [
        {k: d[k] for k in ("id", "field", "expected", "found")} for d in runs["differences"]
    ]
    dr, xcoms, _ = run_dag("dify_log_cleanup_pg", url, conf=conf, archive_root=tmp_path / "arch")
    assert dr.state == DagRunState.FAILED and "FAILED for workflow_runs" in xcoms["errors"]["preflight"]
    assert _counts(url) == counts  # nothing deleted


def _counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            t: conn.execute(f"select count(*) from {t}").fetchone()[0]  # noqa: S608 - our own table names
            for t in ("workflow_runs", "workflow_node_executions", "workflow_app_logs", "workflow_node_execution_offload")
        }


def _request(cluster_config, **form):
    return migrate.request_from({"dry_run": False, **form}, cluster_config, ANCHOR)


def _engine_plan(url, req, cluster_config, data_type):
    planned = migrate.plan(url_connector(url), req, cluster_config.client(), cluster_config)
    return [p for p in planned["partitions"] if p["data_type"] == data_type]


def test_sigkill_mid_stream_then_resume_has_no_duplicate_and_no_gap(databases, cluster, tmp_path):
    url, storage = _database(databases, None, tmp_path)
    config = cluster_for(cluster.url)
    # tiny bulk requests, one at a time: the stream takes long enough to be killed in its middle
    req = _request(config, data_types=["workflow_runs"], batch_mb=1, concurrency=1)
    req = migrate.Request.from_dict({**req.to_dict(), "batch_bytes": 4096})
    part = max(_engine_plan(url, req, config, "workflow_runs"), key=lambda p: p["rows"])
    env = {**os.environ, "DIFY_MAINT_CHILD_DB_URL": url}
    child = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests" / "support" / "log_migrate_child.py"),
            cluster.url,
            json.dumps(req.to_dict()),
            json.dumps(part),
        ],
        env=env,
    )
    key = migrate.stream_key(config, req, "workflow_runs", part["month"])
    written = 0
    for _ in range(3000):
        with psycopg.connect(url) as conn:
            row = conn.execute("select docs_created from dify_maintenance.log_migration where stream_key = %s", (key,)).fetchone()
        written = row[0] if row else 0
        if written >= 5 or child.poll() is not None:
            break
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert 0 < written < part["rows"], "the child was not killed mid-stream"
    with psycopg.connect(url) as conn:
        after_at = conn.execute("select after_at from dify_maintenance.log_migration where stream_key = %s", (key,)).fetchone()[0]
    assert after_at is not None

    result = migrate.migrate_partition(url_connector(url), config.client(), config, req, part, None)
    client = config.client()
    client.indices.refresh(index="dify-*")
    assert result["created"] > 0  # the resume sent what the killed child had not
    checked = validate.check_data_type(url_connector(url), client, config, req, DATA_TYPES["workflow_runs"], None)
    assert checked["missing_count"] == sum(p["rows"] for p in _engine_plan(url, req, config, "workflow_runs")) - part["rows"]
    assert checked["difference_count"] == 0
    total = client.count(index=f"dify-workflow-runs-*-{part['month']}")["count"]
    assert total == part["rows"]  # no duplicate, no gap


def test_cluster_going_away_mid_bulk_fails_retryably_and_a_rerun_completes(databases, cluster, tmp_path):
    url, storage = _database(databases, None, tmp_path)
    relay = Relay(cluster.url)
    config = cluster_for(relay.url, max_retries=1)
    req = _request(config, data_types=["workflow_runs"], concurrency=2)
    req = migrate.Request.from_dict({**req.to_dict(), "batch_bytes": 8192})
    part = max(_engine_plan(url, req, config, "workflow_runs"), key=lambda p: p["rows"])
    seen = []

    def cut_after_some(totals: dict) -> None:
        seen.append(totals["created"])
        if totals["created"] >= 10:
            relay.cut()

    with pytest.raises(ClusterUnavailable, match="did not answer"):
        migrate.migrate_partition(url_connector(url), config.client(), config, req, part, None, on_checkpoint=cut_after_some)
    assert 10 <= seen[-1] < part["rows"]
    relay.restore()
    result = migrate.migrate_partition(url_connector(url), config.client(), config, req, part, None)
    assert result["rejected_total"] == 0
    client = config.client()
    client.indices.refresh(index="dify-*")
    assert client.count(index=f"dify-workflow-runs-*-{part['month']}")["count"] == part["rows"]
    relay.cut()


def test_a_rejected_document_is_reported_by_id_and_validation_fails(databases, cluster, tmp_path):
    url, storage = _database(databases, None, tmp_path)
    config = cluster_for(cluster.url)
    client = config.client()
    req = _request(config, data_types=["workflow_runs"])
    part = max(_engine_plan(url, req, config, "workflow_runs"), key=lambda p: p["rows"])
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        rows = conn.execute(
            "select id::text, tenant_id::text from workflow_runs where created_at >= %s and created_at < %s",
            (part["lo"], part["hi"]),
        ).fetchall()
    tenant = rows[0]["tenant_id"]
    index = f"dify-workflow-runs-{tenant}-{part['month']}"
    # an index someone made earlier with another mapping: every run's status is refused there
    client.indices.create(index=index, body={"mappings": {"properties": {"status": {"type": "long"}}}})
    result = migrate.migrate_partition(url_connector(url), client, config, req, part, None)
    refused = {r["id"] for r in rows if r["tenant_id"] == tenant}
    assert result["rejected_total"] == len(refused) > 0
    assert {r["id"] for r in result["rejects"]} <= refused
    assert all("mapper_parsing_exception" in r["reason"] and r["index"] == index for r in result["rejects"])
    checked = validate.check_data_type(url_connector(url), client, config, req, DATA_TYPES["workflow_runs"], None)
    assert not checked["passed"] and checked["missing_count"] >= len(refused)

    # the remedy: drop the wrong index and restart the stream
    client.indices.delete(index=index)
    again = migrate.Request.from_dict({**req.to_dict(), "restart": True})
    result = migrate.migrate_partition(url_connector(url), client, config, again, part, None)
    assert result["rejected_total"] == 0 and result["created"] == len(refused)


def test_status_and_index_retention(databases, run_dag, cluster, monkeypatch, tmp_path):
    url, storage = _database(databases, None, tmp_path)
    config = cluster_for(cluster.url)
    client = config.client()
    req = _request(config, data_types=["workflow_runs", "app_logs"])
    for part in migrate.plan(url_connector(url), req, client, config)["partitions"]:
        migrate.migrate_partition(url_connector(url), client, config, req, part, None)
    client.indices.refresh(index="dify-*")
    found = indices.status(url_connector(url), client, config, "dify")
    assert found["health"]["status"] == "green"
    runs = [t for t in found["tenants"] if t["data_type"] == "workflow_runs"]
    with psycopg.connect(url) as conn:
        total_runs = conn.execute("select count(*) from workflow_runs").fetchone()[0]
        settled = conn.execute("select count(*) from workflow_runs where created_at < %s", (req.window_end,)).fetchone()[0]
    assert sum(t["rows"] for t in runs) == total_runs and sum(t["documents"] for t in runs) == settled
    assert sum(t["left"] for t in runs) == total_runs - settled
    assert all(s["done"] for s in found["streams"])
    assert not any(t["data_type"] == "node_executions" and t["documents"] for t in found["tenants"])

    monkeypatch.setenv("AIRFLOW_CONN_DIFY_LOG_STORE", airflow_conn(cluster.url))
    months = sorted({e["month"] for e in indices.our_indices(client, config, "dify")})
    client.indices.create(index="dify-audit-2020.01")
    dr, xcoms, states = run_dag("dify_log_index_retention", url, conf={"retention_days": 45})
    assert dr.state == DagRunState.SUCCESS, (states, xcoms["errors"])
    # a dry run by default: it lists what would go and drops nothing
    assert (
        xcoms["drop_expired_indices"]["would_drop"]
        and sorted({e["month"] for e in indices.our_indices(client, config, "dify")}) == months
    )
    dr, xcoms, _ = run_dag("dify_log_index_retention", url, conf={"retention_days": 45, "dry_run": False})
    assert dr.state == DagRunState.FAILED and "confirm_cluster" in xcoms["errors"]["drop_expired_indices"]
    name = client.info()["cluster_name"]
    dr, xcoms, states = run_dag(
        "dify_log_index_retention", url, conf={"retention_days": 45, "dry_run": False, "confirm_cluster": name}
    )
    assert dr.state == DagRunState.SUCCESS, (states, xcoms["errors"])
    left = sorted({e["month"] for e in indices.our_indices(client, config, "dify")})
    limit = ANCHOR - timedelta(days=45)
    assert left and left != months
    for month in months:
        year, m = (int(p) for p in month.split("."))
        month_end = (ANCHOR.replace(year=year, month=m, day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
        assert (month in left) == (month_end > limit), month
    # only our names are dropped: an old index of someone else's, under the same prefix, stays
    assert client.indices.exists(index="dify-audit-2020.01")
    assert all(name.startswith("dify-workflow-") for name in xcoms["drop_expired_indices"]["dropped"])


def test_cluster_settings_from_a_dify_env_never_show_the_password(tmp_path):
    env = tmp_path / ".env"
    env.write_text(
        'ELASTICSEARCH_HOSTS=["https://user:pw@es.internal:9200"]\nELASTICSEARCH_USERNAME=elastic\n'
        "ELASTICSEARCH_PASSWORD=s3cret\nELASTICSEARCH_INDEX_PREFIX=acme\nELASTICSEARCH_RETENTION_DAYS=90\n"
        "ELASTICSEARCH_VERIFY_CERTS=false\n"
    )
    from dify_maintenance.logstore.cluster import from_env_file

    config = from_env_file(env)
    assert config.describe() == "https://es.internal:9200"
    assert "s3cret" not in repr(config) and "pw" not in config.describe()
    assert (config.index_prefix, config.retention_days, config.verify_certs) == ("acme", 90, False)


def test_bad_form_fails_before_anything(databases, run_dag, cluster, monkeypatch):
    url = databases.fresh("1.14")
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_LOG_STORE", airflow_conn(cluster.url))
    dr, xcoms, _ = run_dag("dify_log_migration", url, conf={"dry_run": False, "data_type": ["workflow_runs"]})
    assert dr.state == DagRunState.FAILED and "did you mean 'data_types'" in xcoms["errors"]["plan"]
    start, end = (ANCHOR - timedelta(days=30)).date(), (ANCHOR - timedelta(days=60)).date()
    dr, xcoms, _ = run_dag("dify_log_migration", url, conf={"start_date": start.isoformat(), "end_date": end.isoformat()})
    assert dr.state == DagRunState.FAILED and "after end_date" in xcoms["errors"]["plan"]
    monkeypatch.delenv("AIRFLOW_CONN_DIFY_LOG_STORE")
    dr, xcoms, _ = run_dag("dify_log_migration", url)
    assert dr.state == DagRunState.FAILED and "dify_log_store" in xcoms["errors"]["plan"]
    with connection(url_connector(url)) as conn:
        assert conn.execute("select to_regclass('dify_maintenance.log_migration')").fetchone()["to_regclass"] is None


def test_monthly_layout_puts_every_tenant_in_one_index_per_month_and_validates(databases, cluster, tmp_path):
    url, storage = _database(databases, None, tmp_path)
    config = cluster_for(cluster.url)
    client = config.client()
    req = _request(config, data_types=["workflow_runs"], index_layout="monthly")
    parts = migrate.plan(url_connector(url), req, client, config)["partitions"]
    for part in parts:
        migrate.migrate_partition(url_connector(url), client, config, req, part, None)
    names = sorted(e["index"] for e in client.cat.indices(format="json"))
    assert names == sorted(f"dify-workflow-runs-{p['month']}" for p in parts)
    checked = validate.check_data_type(url_connector(url), client, config, req, DATA_TYPES["workflow_runs"], None)
    assert checked["passed"] and checked["rows"] == sum(p["rows"] for p in parts) == checked["checked"]
    tenants = {
        r["key"]
        for r in client.search(index="dify-*", body={"size": 0, "aggs": {"t": {"terms": {"field": "tenant_id"}}}})[
            "aggregations"
        ]["t"]["buckets"]
    }
    assert len(tenants) == SCALE.tenants
