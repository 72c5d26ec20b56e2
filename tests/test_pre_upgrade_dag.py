"""dify_pre_upgrade_cleanup end to end on real PostgreSQL: dry run, confirmed run, the gate."""

from __future__ import annotations

import json

import psycopg
import pytest
from airflow.utils.state import DagRunState, TaskInstanceState
from support.data import ANCHOR
from support.env import SHARED_SCHEMAS

from devtools import fixtures, generator
from dify_maintenance.core.db import url_connector
from dify_maintenance.retention import report as report_mod

DUMP_0142 = SHARED_SCHEMAS / "dify-0.14.2.sql"
DUMP_0153 = SHARED_SCHEMAS / "dify-0.15.3.sql"
needs_dumps = pytest.mark.skipif(not DUMP_0142.is_file(), reason=f"real schema dumps not in {SHARED_SCHEMAS}")


def dify_fingerprint(url: str) -> dict:
    """Row count, content hash and file node of every Dify table: anything a run could change."""
    with psycopg.connect(url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                "where n.nspname = 'public' and c.relkind = 'r' order by 1"
            )
        ]
        out = {}
        for t in tables:
            count, digest = conn.execute(
                psycopg.sql.SQL("select count(*), coalesce(sum(hashtext(x::text)::bigint), 0) from {} x").format(
                    psycopg.sql.Identifier(t)
                )
            ).fetchone()
            node = conn.execute(
                "select relfilenode from pg_class where relname = %s and relnamespace = 'public'::regnamespace", [t]
            ).fetchone()[0]
            out[t] = (count, digest, node)
    return out


def table_bytes(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("select pg_total_relation_size(%s::regclass)", [f"public.{table}"]).fetchone()[0]


def generated_0142(databases) -> str:
    url = databases.fresh(empty=True)
    fixtures.load_dump(url, DUMP_0142)
    generator.generate(url_connector(url), anchor=ANCHOR, scale=generator.Scale(runs=400, tenants=2))
    return url


@needs_dumps
def test_dry_run_changes_nothing(databases, run_dag, tmp_path, monkeypatch):
    url = generated_0142(databases)
    backups = tmp_path / "backups"
    monkeypatch.setenv("DIFY_MAINT_BACKUP_ROOT", str(backups))
    before = dify_fingerprint(url)
    dr, xcoms, states = run_dag(
        "dify_pre_upgrade_cleanup", url, conf={"target_version": "0.15.3", "target_schema": str(DUMP_0153)}
    )
    assert dr.state == DagRunState.SUCCESS, states
    assert dify_fingerprint(url) == before
    # the store was probed (a real run will need it) but holds no file
    assert not any(path.is_file() for path in backups.rglob("*"))
    rep = xcoms["report"]
    assert rep["dry_run"] is True and rep["total_deleted"] == 0 and rep["total_would_delete"] > 0
    impact = xcoms["upgrade_impact"]
    rewrite = [m for m in impact["migrations"] if m["kind"] == "rewrite"]
    assert [m["table"] for m in rewrite] == ["workflow_runs"]
    assert rewrite[0]["bytes_now"] > rewrite[0]["bytes_after_purge"] > 0
    assert impact["seconds_saved"] > 0
    lines = [c["line"] for c in impact["schema_diff"]["changes"]]
    assert any("workflow_runs: column total_tokens: integer -> bigint" in line and "[table rewrite]" in line for line in lines)
    reclaim = xcoms["reclaim"]
    assert reclaim and all(not entry["ran"] for entry in reclaim.values())


@needs_dumps
def test_confirmed_run_backs_up_purges_reclaims_and_reports(databases, run_dag, tmp_path, monkeypatch):
    url = generated_0142(databases)
    backups = tmp_path / "backups"
    monkeypatch.setenv("DIFY_MAINT_BACKUP_ROOT", str(backups))
    dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    runs_before = table_bytes(url, "workflow_runs")
    conf = {
        "target_version": "0.15.3",
        "dry_run": False,
        "confirm_database": dbname,
        "reclaim_strategy": "auto",
        "reclaim_min_mb": 0,
        "restore_check": True,
    }
    dr, xcoms, states = run_dag("dify_pre_upgrade_cleanup", url, conf=conf)
    assert dr.state == DagRunState.SUCCESS, states
    made = xcoms["backup"]
    manifest = json.loads((backups / "backups" / dbname / made["backup_id"] / "manifest.json").read_text())
    assert manifest["dify_version"] == "0.14.2" and manifest["alembic_head"] == "d7999dfa4aae"
    assert all((backups / "backups" / dbname / made["backup_id"] / "dump" / f["name"]).is_file() for f in manifest["files"])
    assert xcoms["verify_backup"]["ok"] is True and xcoms["verify_backup"]["checks"]["restore"]["mismatched"] == {}
    assert xcoms["report"]["total_deleted"] > 0
    reclaim = xcoms["reclaim"]
    assert reclaim["workflow_runs"]["ran"] and reclaim["workflow_runs"]["strategy"] in ("rebuild", "vacuum_full")
    assert table_bytes(url, "workflow_runs") < runs_before
    with psycopg.connect(url) as conn:
        report = conn.execute("select report from dify_maintenance.history order by id desc limit 1").fetchone()[0]
    assert [m["table"] for m in report["impact"]["migrations"] if m["kind"] == "rewrite"] == ["workflow_runs"]
    assert report_mod.render_text(report).startswith("Dify pre-upgrade cleanup report  dify_pre_upgrade_cleanup/")
    assert report["impact_after_reclaim"]["migrations"][0]["bytes_now"] < report["impact"]["migrations"][0]["bytes_now"]


def report_tables(url: str, counter: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        report = conn.execute("select report from dify_maintenance.history order by id desc limit 1").fetchone()[0]
    return {table: row[counter] for table, row in report["tables"].items() if row[counter]}


@needs_dumps
def test_dry_run_predicts_the_confirmed_run(databases, run_dag, tmp_path, monkeypatch):
    """Table by table the rows, and per table the reclaim strategy: what the dry run says is
    what the real run then does (it once predicted 32,593 rows and VACUUM FULL where the real
    run deleted 34,450 and rebuilt)."""
    url = generated_0142(databases)
    monkeypatch.setenv("DIFY_MAINT_BACKUP_ROOT", str(tmp_path / "backups"))
    dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    conf = {"target_version": "0.15.3", "keep_days": 14, "reclaim_min_mb": 0}
    dr, xcoms, states = run_dag("dify_pre_upgrade_cleanup", url, conf=conf)
    assert dr.state == DagRunState.SUCCESS, states
    predicted = report_tables(url, "would_delete")
    plan = {table: entry["strategy"] for table, entry in xcoms["reclaim"].items()}
    assert xcoms["preflight"]["backup_readiness"]["pg_dump"].startswith("pg_dump")
    dr, xcoms, states = run_dag("dify_pre_upgrade_cleanup", url, conf={**conf, "dry_run": False, "confirm_database": dbname})
    assert dr.state == DagRunState.SUCCESS, states
    assert report_tables(url, "deleted") == predicted
    assert predicted["conversations"] > 0 and predicted["end_users"] > 0
    assert {table: entry["strategy"] for table, entry in xcoms["reclaim"].items()} == plan
    assert "rebuild" in plan.values()


@needs_dumps
def test_a_dry_run_fails_when_the_real_run_could_not_back_up(databases, run_dag, tmp_path, monkeypatch):
    """No pg_dump of the server's major version on the worker: the dry run says so, in preflight."""
    from dify_maintenance.database import pgclient

    url = generated_0142(databases)
    monkeypatch.setenv("DIFY_MAINT_BACKUP_ROOT", str(tmp_path / "backups"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(pgclient, "_SEARCH_GLOBS", ())
    monkeypatch.delenv(pgclient.BIN_DIR_ENV, raising=False)
    dr, xcoms, states = run_dag("dify_pre_upgrade_cleanup", url, conf={"target_version": "0.15.3"})
    assert dr.state == DagRunState.FAILED and states[("preflight", -1)] == TaskInstanceState.FAILED
    assert "ClientNotFound" in xcoms["errors"]["preflight"] and "pg_dump" in xcoms["errors"]["preflight"]


@needs_dumps
def test_failed_backup_verification_blocks_the_purge(databases, run_dag, monkeypatch):
    """A store that forgets what it was given (opendal's memory scheme: every operator is a new,
    empty store) is a real way for a backup to be lost; verification must catch it, and the
    purge must not run."""
    url = generated_0142(databases)
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_BACKUP_STORE", json.dumps({"conn_type": "generic", "extra": {"scheme": "memory"}}))
    dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    before = dify_fingerprint(url)
    dr, xcoms, states = run_dag(
        "dify_pre_upgrade_cleanup", url, conf={"target_version": "0.15.3", "dry_run": False, "confirm_database": dbname}
    )
    assert dr.state == DagRunState.FAILED
    assert states[("backup", -1)] == TaskInstanceState.SUCCESS
    assert states[("verify_backup", -1)] == TaskInstanceState.FAILED
    assert states[("independent_families", -1)] == TaskInstanceState.UPSTREAM_FAILED
    assert dify_fingerprint(url) == before


@needs_dumps
def test_real_run_needs_the_typed_database_name(databases, run_dag):
    url = generated_0142(databases)
    before = dify_fingerprint(url)
    dr, xcoms, states = run_dag("dify_pre_upgrade_cleanup", url, conf={"dry_run": False, "confirm_database": "not-this-one"})
    assert dr.state == DagRunState.FAILED
    assert states[("preflight", -1)] == TaskInstanceState.FAILED
    assert dify_fingerprint(url) == before


def test_target_older_than_current_is_refused(databases, run_dag):
    url = databases.fresh("1.14")
    dr, xcoms, states = run_dag("dify_pre_upgrade_cleanup", url, conf={"target_version": "0.15.3"})
    assert dr.state == DagRunState.FAILED and states[("preflight", -1)] == TaskInstanceState.FAILED


@pytest.mark.parametrize("release", ["1.14.1", "1.15.0", "1.16.1"])
def test_confirmed_run_from_recent_releases_to_the_newest_known(release, databases, run_dag, tmp_path, monkeypatch):
    """From 1.14.1, 1.15.0 and 1.16.1 itself to 1.16.1: backed up, purged (the newer tables with
    their parents), and the migrations ahead named (1.15.0's unbatched UPDATEs only from 1.14.1)."""
    dump = SHARED_SCHEMAS / f"dify-{release}.sql"
    if not dump.is_file():
        pytest.skip(f"real schema dumps not in {SHARED_SCHEMAS}")
    url = databases.fresh(empty=True)
    fixtures.load_dump(url, dump)
    generator.generate(url_connector(url), anchor=ANCHOR, scale=generator.Scale(runs=300, tenants=2))
    monkeypatch.setenv("DIFY_MAINT_BACKUP_ROOT", str(tmp_path / "backups"))
    dbname = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    conf = {"target_version": "1.16.1", "dry_run": False, "confirm_database": dbname, "reclaim_min_mb": 0}
    dr, xcoms, states = run_dag("dify_pre_upgrade_cleanup", url, conf=conf)
    assert dr.state == DagRunState.SUCCESS, states
    assert xcoms["verify_backup"]["ok"] is True
    deleted = report_tables(url, "deleted")
    assert deleted["workflow_runs"] > 0 and deleted["human_input_forms"] > 0
    with psycopg.connect(url) as conn:
        report = conn.execute("select report from dify_maintenance.history order by id desc limit 1").fetchone()[0]
    assert report["verify"]["failed"] == 0
    ahead = {(m["release"], m["table"]) for m in report["impact"]["migrations"]}
    assert (("1.15.0", "end_users") in ahead) == (release == "1.14.1")
