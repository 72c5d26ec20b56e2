"""The maintenance page (plugin ``dify_maintenance_ui``): every route with and without
authentication through Airflow's own app, and every number it shows checked against the
database, after two retention runs (the second deferred by the stop switch)."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import psycopg
import pytest
from support.env import ROOT
from support.page import CHROMIUM, CHROMIUM_ARGS, USERS, ApiServer, auth_env, build_scenario

from dify_maintenance.dashboard import model as model_mod


@pytest.fixture(scope="module")
def scenario(airflow_db, databases, tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        yield build_scenario(databases, mp, tmp_path_factory.mktemp("page"))


@pytest.fixture
def client(scenario, monkeypatch, tmp_path):
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient
    from support.dags import airflow_conn_json

    auth_env(monkeypatch, tmp_path)
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_DB", airflow_conn_json(scenario["url"]))
    with TestClient(create_app()) as c:
        yield c


def _token(client, user: str) -> dict:
    response = client.post("/auth/token", json={"username": user, "password": USERS[user]})
    assert response.status_code in (200, 201), response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.mark.parametrize("path", ["/dify-maintenance/", "/dify-maintenance/api/summary"])
def test_every_route_refuses_a_caller_who_is_not_logged_in(client, path):
    response = client.get(path)
    assert response.status_code == 401
    assert "dify_retention" not in response.text


@pytest.mark.parametrize("user", ["viewer", "admin"])
def test_logged_in_users_read_only_users_included_see_the_page(client, user):
    response = client.get("/dify-maintenance/", headers=_token(client, user))
    assert response.status_code == 200
    assert "Dify maintenance" in response.text and "<svg" in response.text
    # nothing can be changed from the page: it has no route that takes a write
    for method in ("post", "put", "delete"):
        assert getattr(client, method)("/dify-maintenance/", headers=_token(client, user)).status_code == 405


def _db(url: str, sql: str, params=None):
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(sql, params).fetchall()


def test_every_number_on_the_page_matches_the_database(client, scenario):
    url = scenario["url"]
    summary = client.get("/dify-maintenance/api/summary", headers=_token(client, "viewer")).json()
    html = client.get("/dify-maintenance/", headers=_token(client, "viewer")).text

    history = _db(url, "select dag_id, outcome, report from dify_maintenance.history order by id")
    retention = [h for h in history if h["dag_id"] == "dify_retention"]
    assert [h["outcome"] for h in retention] == ["success", "deferred"]

    # the last run of each DAG: the deferred one, with what it deleted per family
    last = next(r["last"] for r in summary["runs"] if r["dag_id"] == "dify_retention")
    assert last["outcome"] == "deferred" and last["total_deleted"] == retention[-1]["report"]["total_deleted"]
    assert last["deleted"] == retention[-1]["report"]["per_family"]
    assert last["cutoffs"] == retention[-1]["report"]["cutoffs"]
    archived = {}
    for t in retention[-1]["report"]["tables"].values():
        archived[t["family"]] = archived.get(t["family"], 0) + t["archived"]
    assert last["archived"] == archived

    # and the last successful run beside it, with what that one deleted and archived
    success = next(r["last_success"] for r in summary["runs"] if r["dag_id"] == "dify_retention")
    assert success["outcome"] == "success" and success["deleted"] == retention[0]["report"]["per_family"]
    assert sum(success["archived"].values()) == retention[0]["report"]["total_archived"] > 0
    assert all(f"{n:,}" in html for n in success["deleted"].values())

    # rows purged per week and family: both runs, real ones only
    weekly = summary["purged_weekly"]["series"]
    expected = {}
    for h in retention:
        for family, n in h["report"]["per_family"].items():
            expected[family] = expected.get(family, 0) + n
    assert {f: sum(v) for f, v in weekly.items()} == expected
    assert sum(expected.values()) == scenario["first"]["total_deleted"] > 0

    # the log tables' size over time: one point per snapshot, the sum of the log tables
    snapshots = _db(
        url,
        "select taken_at, sum(total_bytes) as b from dify_maintenance.table_sizes where table_name = any(%s) group by 1 order by 1",
        (model_mod.log_tables(),),
    )
    assert [p["bytes"] for p in summary["log_size"]["points"]] == [int(s["b"]) for s in snapshots]
    assert len(snapshots) == 2
    assert [m["outcome"] for m in summary["log_size"]["retention_runs"]] == ["success", "deferred"]

    # the ten biggest tables now, with their dead space
    biggest = _db(
        url,
        "select relname from pg_stat_user_tables where schemaname = 'public' order by pg_total_relation_size(relid) desc, relname limit 10",
    )
    assert [t["table_name"] for t in summary["biggest_tables"]] == [b["relname"] for b in biggest]

    # what the last run left: every family, stopped by the switch
    deferred = retention[-1]["report"]["deferred"]
    assert {d["family"]: d["kind"] for d in summary["deferred"]} == {f: "stop switch" for f in deferred}
    assert deferred and all(f in html for f in deferred) and "stop switch" in html

    # the newest verified backup
    assert summary["backup"]["verified"] and summary["backup"]["total_bytes"] == scenario["backup"]["total_bytes"] > 0
    assert summary["backup"]["backup_id"] == scenario["backup"]["backup_id"]
    assert summary["log_size"]["snapshots"] == 2
    assert summary["stop_switch"]["on"] is False
    assert f"{last['total_deleted']:,}" in html or last["total_deleted"] == 0
    assert f"{scenario['first']['total_deleted']:,}" in html  # the weekly bar's tooltip names it


def test_table_size_snapshots_keep_a_year(scenario, databases):
    from dify_maintenance.core.db import url_connector
    from dify_maintenance.database import sizes

    url = databases.fresh("1.14")
    sizes.snapshot(url_connector(url))
    with psycopg.connect(url) as conn:
        conn.execute(
            "insert into dify_maintenance.table_sizes select taken_at - interval '366 days', table_name, total_bytes, heap_bytes, "
            "index_bytes, live_rows, dead_rows from dify_maintenance.table_sizes"
        )
        conn.execute(
            "insert into dify_maintenance.table_sizes select taken_at - interval '300 days', table_name, total_bytes, heap_bytes, "
            "index_bytes, live_rows, dead_rows from dify_maintenance.table_sizes where taken_at > now() - interval '1 day'"
        )
        conn.commit()
    result = sizes.snapshot(url_connector(url))
    with psycopg.connect(url) as conn:
        ages = conn.execute(
            "select distinct date_part('day', now() - taken_at)::int from dify_maintenance.table_sizes order by 1"
        ).fetchall()
    assert result["pruned"] > 0 and result["tables"] > 0
    assert [a[0] for a in ages] == [0, 300]


ARTIFACTS = ROOT / ".test-artifacts"


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)")
def test_a_person_logs_in_and_sees_the_runs_the_plot_and_the_deferred_list(scenario, monkeypatch, tmp_path):
    """A real api-server and headless Chromium: log in through Airflow's login form, open the page
    from the Browse menu's entry, and look for what a team lead looks for on Monday."""
    from playwright.sync_api import sync_playwright
    from support.dags import airflow_conn_json

    auth_env(monkeypatch, tmp_path)
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_DB", airflow_conn_json(scenario["url"]))
    server = ApiServer(dict(os.environ)).start(tmp_path / "api-server.log")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "maintenance-page.png"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 2000})
            page.goto(server.url + "/auth/login/")
            page.fill("input[name=username]", "viewer")
            page.fill("input[name=password]", USERS["viewer"])
            page.click("button[type=submit]")
            page.wait_for_url(lambda u: "/auth/login" not in u, timeout=30_000)
            page.goto(server.url + "/plugin/dify-maintenance")
            frame = page.frame_locator("iframe").first
            frame.locator("h1").wait_for(timeout=30_000)
            page.wait_for_timeout(500)
            page.screenshot(path=str(shot), full_page=True)
            title = frame.locator("h1").inner_text()
            runs = frame.locator("tr.run[data-dag=dify_retention]").inner_text()
            last_success = frame.locator("tr.last-success[data-dag=dify_retention]").inner_text()
            deferred = frame.locator("#deferred").inner_text()
            charts = frame.locator("svg.chart").count()
            weekly = frame.locator("svg[aria-label='Rows purged per week and family'] rect title").all_text_contents()
            browser.close()
    finally:
        server.stop()
    url = scenario["url"]
    reports = [
        r["report"] for r in _db(url, "select report from dify_maintenance.history where dag_id = 'dify_retention' order by id")
    ]
    assert title == f"Dify maintenance: {psycopg.conninfo.conninfo_to_dict(url)['dbname']}"
    assert "deferred" in runs and "dify_retention" in runs
    # the rows the last successful run deleted, per family, as a person reads them
    assert all(f"{family} {n:,}" in last_success for family, n in reports[0]["per_family"].items() if n)
    assert reports[-1]["deferred"] and all(f in deferred for f in reports[-1]["deferred"]) and "stop switch" in deferred
    assert charts == 3
    # the first run's rows per family are the weekly bars' numbers (each bar names its count)
    assert all(f"{family}: {n:,}" in " ".join(weekly) for family, n in reports[0]["per_family"].items() if n)
    assert shot.stat().st_size > 20_000
    print(f"screenshot: {shot}")


def test_orphaned_files_quarantines_and_pre_upgrade_come_from_their_runs(databases):
    """The cards of DAGs the scenario does not run, from history rows as those DAGs write them."""
    from psycopg.types.json import Jsonb

    from dify_maintenance.core.db import url_connector

    url = databases.fresh("1.14")
    with psycopg.connect(url) as conn:
        from dify_maintenance.core import state

        state.ensure_schema(conn)
        rows = [
            (
                "dify_orphaned_files",
                "40 days",
                {"dry_run": False, "quarantine_id": "q-old", "quarantine_days": 30, "quarantines_emptied": []},
            ),
            (
                "dify_orphaned_files",
                "10 days",
                {"dry_run": False, "quarantine_id": "q-new", "quarantine_days": 30, "quarantines_emptied": []},
            ),
            (
                "dify_orphaned_files",
                "1 day",
                {
                    "dry_run": True,
                    "quarantine_id": None,
                    "candidates": {"upload_file": 7, "object": 3},
                    "candidate_bytes": {"upload_file": 7000, "object": 300},
                    "quarantines_emptied": [{"quarantine_id": "q-old"}],
                },
            ),
            ("dify_pre_upgrade_cleanup", "2 days", {"dry_run": True, "target_version": "1.16.1", "total_would_delete": 1234}),
        ]
        for dag_id, age, report in rows:
            conn.execute(
                "insert into dify_maintenance.history (run_key, dag_id, recorded_at, outcome, report) "
                "values (%s, %s, now() - %s::interval, 'success', %s)",
                (f"{dag_id}/r-{age}", dag_id, age, Jsonb(report)),
            )
        conn.commit()
        db_now = conn.execute("select now()").fetchone()[0]
    found = model_mod.collect(url_connector(url), model_mod.AirflowFacts())
    assert found["orphans"]["dry_run"] and (found["orphans"]["candidates"], found["orphans"]["bytes"]) == (10, 7300)
    assert [q["quarantine_id"] for q in found["quarantines"]] == ["q-new"]  # q-old was emptied by a later run
    expires = found["quarantines"][0]["expires_at"]
    assert abs((datetime.fromisoformat(expires) - (db_now + timedelta(days=20))).total_seconds()) < 60
    assert found["pre_upgrade"] == {
        "recorded_at": found["pre_upgrade"]["recorded_at"],
        "dry_run": True,
        "target_version": "1.16.1",
        "rows": 1234,
    }
    assert found["backup"] is None and found["deferred"] == []
