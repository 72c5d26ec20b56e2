"""The weekly log cycle through the real DAGs: migrate → cleanup-pg → index retention, three
times, with Dify writing between them (new runs, late rows with an old date, runs that change).
Each cleanup is audited row by row against the index Dify reads; each run leaves a history row,
a note in its own words, and a line on the maintenance page. And the inputs the three forms
refuse before anything changes."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import psycopg
import pytest
from airflow.sdk.exceptions import ParamValidationError
from airflow.utils.state import DagRunState
from support.dags import airflow_conn_json, run_note
from support.data import ANCHOR
from support.logstore import airflow_conn, audit_deleted, cluster_for, expected_documents

from devtools import fixtures, generator
from dify_maintenance.core.db import url_connector
from dify_maintenance.core.errors import InvalidPolicy
from dify_maintenance.dashboard import model
from dify_maintenance.logstore.forms import LOG_INDEX_RETENTION_FORM, LOG_MIGRATION_FORM
from dify_maintenance.storage.stores import StoreConfig

SCALE = generator.Scale(runs=150, tenants=2)


def _database(databases, tmp_path) -> tuple[str, StoreConfig]:
    url = databases.fresh(empty=True)
    fixtures.load_sql(url, fixtures.fixture_schema("1.14"))
    generator.generate(url_connector(url), anchor=ANCHOR, scale=SCALE)
    storage = StoreConfig("fs", {"root": str(tmp_path / "dify-storage")})
    generator.write_offload_payloads(url_connector(url), storage)
    return url, storage


def _copy_runs(conn, where: str, params: tuple, created_at_sql: str) -> list[str]:
    """New runs copied from existing ones (with their node executions), dated by ``created_at_sql``."""
    made = []
    for (source,) in conn.execute(f"select id from workflow_runs where {where}", params).fetchall():  # noqa: S608
        new = uuid.uuid4()
        conn.execute("create temp table w_run as select * from workflow_runs where id = %s", (source,))
        conn.execute(f"update w_run set id = %s, created_at = {created_at_sql}", (new,))  # noqa: S608
        conn.execute("insert into workflow_runs select * from w_run")
        conn.execute("create temp table w_nodes as select * from workflow_node_executions where workflow_run_id = %s", (source,))
        conn.execute(
            f"update w_nodes set id = gen_random_uuid(), workflow_run_id = %s, created_at = {created_at_sql}",  # noqa: S608
            (new,),
        )
        conn.execute("insert into workflow_node_executions select * from w_nodes")
        conn.execute("drop table w_run; drop table w_nodes")
        made.append(str(new))
    return made


def _dify_writes(url: str, week: int) -> dict:
    """A week of Dify: new runs (settled), rows committed late with an old date, finished runs changed."""
    with psycopg.connect(url) as conn:
        fresh = _copy_runs(
            conn,
            "status = 'succeeded' order by created_at desc limit 5",
            (),
            "now() - interval '2 hours' - random() * interval '1 day'",
        )
        late = _copy_runs(conn, "status = 'succeeded' order by created_at limit 3 offset %s", (week * 3,), "created_at")
        changed = [
            r[0]
            for r in conn.execute(
                "update workflow_runs set outputs = %s where id in (select id from workflow_runs where status = 'succeeded' "
                "order by created_at desc limit 3 offset 10) returning id::text",
                (json.dumps({"week": week}),),
            ).fetchall()
        ]
    return {"fresh": fresh, "late": late, "changed": changed}


def _history(url: str, dag_id: str) -> list[dict]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(
            "select outcome, report from dify_maintenance.history where dag_id = %s order by id", (dag_id,)
        ).fetchall()


def test_the_weekly_cycle_three_times_while_dify_writes(databases, run_dag, es, monkeypatch, tmp_path):
    url, storage = _database(databases, tmp_path)
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_LOG_STORE", airflow_conn(es.url))
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_STORAGE", json.dumps({"conn_type": "fs", "extra": {"root": storage.options["root"]}}))
    database = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    client = cluster_for(es.url).client()
    deleted_total = 0
    for week in range(3):
        writes = _dify_writes(url, week) if week else {}
        dr, xcoms, states = run_dag("dify_log_migration", url, conf={"dry_run": False})
        assert dr.state == DagRunState.SUCCESS, (week, states, xcoms["errors"])
        assert xcoms["report"]["validation"] == "passed"
        if week:
            # the late rows (old date, behind the watermark) and the changed runs were rewritten
            streams = xcoms["validate_window"]
            assert streams["passed"]
            assert run_note(dr) and "documents written" in run_note(dr)

        before = expected_documents(url, storage)
        cutoff = (ANCHOR - timedelta(days=60 - 15 * week)).date().isoformat()
        conf = {"dry_run": False, "confirm_database": database, "before_date": cutoff}
        dr, xcoms, states = run_dag("dify_log_cleanup_pg", url, conf=conf, archive_root=tmp_path / f"arch{week}")
        assert dr.state == DagRunState.SUCCESS, (week, states, xcoms["errors"])
        deleted, wrong = audit_deleted(before, url, client)
        assert deleted > 0 and wrong == [], week
        deleted_total += deleted
        if writes:
            with psycopg.connect(url) as conn:
                gone = conn.execute(
                    "select count(*) from unnest(%s::text[]) as l(id) where not exists "
                    "(select 1 from workflow_runs r where r.id::text = l.id)",
                    (writes["late"],),
                ).fetchone()[0]
            assert gone == len(writes["late"])  # old-dated rows written after the last run: migrated, then cleaned

        retention = {"dry_run": False, "confirm_cluster": "es-face", "retention_days": 75 - 10 * week}
        dr, xcoms, states = run_dag("dify_log_index_retention", url, conf=retention)
        assert dr.state == DagRunState.SUCCESS, (week, states, xcoms["errors"])
        assert "indices dropped" in (run_note(dr) or "")

    for dag_id in ("dify_log_migration", "dify_log_cleanup_pg", "dify_log_index_retention"):
        runs = _history(url, dag_id)
        assert [r["outcome"] for r in runs] == ["success"] * 3, dag_id
    assert deleted_total > 0
    # the page says what each did, in its own words
    page = model.collect(url_connector(url), model.AirflowFacts())
    last = {entry["dag_id"]: entry.get("last") for entry in page["runs"]}
    assert "documents written" in last["dify_log_migration"]["deleted"]
    assert "readable by Dify" in last["dify_log_migration"]["summary"]
    assert "indices dropped" in last["dify_log_index_retention"]["deleted"]
    assert last["dify_log_cleanup_pg"]["deleted"]["deleted"] > 0


def test_index_retention_is_a_dry_run_unless_asked_with_the_cluster_name(databases, run_dag, es, monkeypatch, tmp_path):
    url, storage = _database(databases, tmp_path)
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_LOG_STORE", airflow_conn(es.url))
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_STORAGE", json.dumps({"conn_type": "fs", "extra": {"root": storage.options["root"]}}))
    dr, xcoms, _ = run_dag("dify_log_migration", url, conf={"dry_run": False})
    assert dr.state == DagRunState.SUCCESS
    client = cluster_for(es.url).client()
    count = len(client.cat.indices(index="dify-*", format="json"))
    # the form's defaults (what unpausing the DAG runs): a dry run, nothing dropped
    dr, xcoms, _ = run_dag("dify_log_index_retention", url, conf={"retention_days": 30})
    assert dr.state == DagRunState.SUCCESS and xcoms["drop_expired_indices"]["would_drop"]
    assert len(client.cat.indices(index="dify-*", format="json")) == count
    assert "would drop" in run_note(dr)
    # a real run with the wrong name: refused before anything is dropped
    dr, xcoms, _ = run_dag(
        "dify_log_index_retention", url, conf={"retention_days": 30, "dry_run": False, "confirm_cluster": "prod"}
    )
    assert dr.state == DagRunState.FAILED and "'es-face'" in xcoms["errors"]["drop_expired_indices"]
    assert len(client.cat.indices(index="dify-*", format="json")) == count
    assert _history(url, "dify_log_index_retention")[-1]["outcome"] == "failed"


def test_the_log_forms_refuse_bad_input_before_anything_changes(databases, run_dag, es, monkeypatch, tmp_path):
    url, storage = _database(databases, tmp_path)
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_LOG_STORE", airflow_conn(es.url))
    database = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    for prefix in ("dify,*", "x" * 260, "Dify"):
        for dag_id, form in (("dify_log_migration", LOG_MIGRATION_FORM), ("dify_log_index_retention", LOG_INDEX_RETENTION_FORM)):
            # refused by the trigger form, and by the engine for a conf that bypassed it
            with pytest.raises(ParamValidationError, match="index_prefix"):
                run_dag(dag_id, url, conf={"index_prefix": prefix})
            with pytest.raises(InvalidPolicy, match="index_prefix"):
                form.checked({"index_prefix": prefix}, dag_id)
    # the cleanup's cluster connection has its prefix in the extra: checked too
    bad = json.loads(airflow_conn(es.url))
    bad["extra"]["index_prefix"] = "dify,*"
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_LOG_STORE", json.dumps(bad))
    conf = {"before_date": (ANCHOR - timedelta(days=40)).date().isoformat()}
    dr, xcoms, _ = run_dag("dify_log_cleanup_pg", url, conf=conf)
    assert dr.state == DagRunState.FAILED and "not a usable index prefix" in xcoms["errors"]["preflight"]
    # a connection of the wrong type (the Postgres one) names the problem
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_LOG_STORE", airflow_conn_json(url))
    dr, xcoms, _ = run_dag("dify_log_migration", url)
    assert dr.state == DagRunState.FAILED and "is of type 'postgres'" in xcoms["errors"]["plan"]
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_LOG_STORE", airflow_conn(es.url))
    # archive off needs the database's name typed a second time
    conf = {"before_date": (ANCHOR - timedelta(days=40)).date().isoformat(), "dry_run": False, "confirm_database": database}
    dr, xcoms, _ = run_dag("dify_log_cleanup_pg", url, conf={**conf, "archive": False})
    assert dr.state == DagRunState.FAILED and "confirm_archive_off" in xcoms["errors"]["preflight"]
    # a before_date later than the database's now minus the settle window
    tomorrow = {**conf, "archive": True, "before_date": (ANCHOR + timedelta(days=1)).date().isoformat()}
    dr, xcoms, _ = run_dag("dify_log_cleanup_pg", url, conf=tomorrow)
    assert dr.state == DagRunState.FAILED and "later than the database's now" in xcoms["errors"]["preflight"]
    with psycopg.connect(url) as conn:
        assert conn.execute("select to_regclass('dify_maintenance.log_migration')").fetchone()[0] is None or (
            conn.execute("select count(*) from dify_maintenance.log_migration").fetchone()[0] == 0
        )
