"""The retention DAG end to end on every real Dify schema dump in ../shared/dify-schema (0.14.2 to
1.16.1), and the schema-drift guard on a Dify newer than the newest known one: 1.16.1 presented as
unknown (the version map cut back to 1.14.1)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from airflow.utils.state import DagRunState
from support.data import ANCHOR
from support.env import SHARED_SCHEMAS, SUPPORTED_DUMPS

from devtools import fixtures, generator
from dify_maintenance.core.db import url_connector

REASON = f"real schema dumps not found in {SHARED_SCHEMAS} (they come with ../shared in CI)"


@pytest.mark.skipif(not SUPPORTED_DUMPS, reason=REASON)
@pytest.mark.parametrize("dump", SUPPORTED_DUMPS, ids=[p.stem for p in SUPPORTED_DUMPS])
def test_retention_on_real_dump(dump: Path, databases, run_dag, tmp_path, monkeypatch):
    url = databases.fresh(empty=True)
    fixtures.load_dump(url, dump)
    generator.generate(url_connector(url), anchor=ANCHOR, scale=generator.Scale(runs=300, tenants=2))
    release = tuple(int(p) for p in dump.stem.removeprefix("dify-").split("."))
    recent = release >= (1, 15, 0)
    if recent:  # the releases this package learnt last: the backup and restore DAGs on them too
        monkeypatch.setenv("DIFY_MAINT_BACKUP_ROOT", str(tmp_path / "backups"))
        dr, xcoms, states = run_dag("dify_backup", url, conf={"restore_check": True, "keep_count": 1})
        assert dr.state == DagRunState.SUCCESS, states
        assert xcoms["verify"]["ok"] and xcoms["verify"]["checks"]["restore"]["mismatched"] == {}
        before = _row_counts(url)
    dr, xcoms, states = run_dag("dify_retention", url, conf={"dry_run": False}, archive_root=tmp_path / "arch")
    assert dr.state == DagRunState.SUCCESS, states
    assert xcoms["report"]["dify_version"] == dump.stem.removeprefix("dify-")
    assert xcoms["report"]["total_deleted"] > 0
    with psycopg.connect(url) as conn:
        report = conn.execute("select report from dify_maintenance.history where dag_id = 'dify_retention'").fetchone()[0]
    assert report["verify"]["failed"] == 0
    deleted = {t: r["deleted"] for t, r in report["tables"].items()}
    archived = {t: r["archived"] for t, r in report["tables"].items()}
    assert deleted == archived
    # the tables of newer versions are purged with their parents (verify proved none left orphaned)
    newer = {"1.13": ("human_input_forms", "human_input_form_recipients"), "1.15": ("agent_runtime_sessions",)}
    for since, tables in newer.items():
        if release >= tuple(int(p) for p in since.split(".")):
            assert all(deleted.get(t, 0) > 0 for t in tables), (since, {t: deleted.get(t) for t in tables})
    if recent:
        prefix = xcoms["preflight"]["archive_prefix"]
        conf = {"archive_prefix": prefix, "use_defaults": True}
        dr, _, states = run_dag("dify_restore_archive", url, conf=conf, archive_root=tmp_path / "arch")
        assert dr.state == DagRunState.SUCCESS, states
        after = _row_counts(url)
        assert {t: n for t, n in after.items() if not t.startswith("dm_")} == before


def _row_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'public'")]
        return {
            t: conn.execute(psycopg.sql.SQL("select count(*) from {}").format(psycopg.sql.Identifier(t))).fetchone()[0]
            for t in tables
        }


NEWEST_DUMP = SHARED_SCHEMAS / "dify-1.16.1.sql"


def _as_if_newest_known_were_1_14_1(monkeypatch) -> None:
    """The version map as this package had it before 1.15: 1.16.1's head is then unknown."""
    from dify_maintenance.core import drift, schema

    table = json.loads(json.dumps(schema.version_table()))
    newer = {rev for rev, release in table["first_release"].items() if schema.version_key(release) > (1, 14, 1)}
    table["first_release"] = {rev: rel for rev, rel in table["first_release"].items() if rev not in newer}
    table["release_heads"] = {rel: rev for rel, rev in table["release_heads"].items() if rev not in newer}
    table["newest_supported"] = "1.14.1"
    monkeypatch.setattr(schema, "version_table", lambda: table)
    monkeypatch.setattr(drift, "version_table", lambda: table)


@pytest.mark.skipif(not NEWEST_DUMP.exists(), reason=REASON)
def test_unknown_dify_with_new_references_to_purged_tables_stops_before_anything(databases, monkeypatch):
    from dify_maintenance.core.errors import SchemaDrift
    from dify_maintenance.core.policy import resolve
    from dify_maintenance.retention import steps as retention

    url = databases.fresh(empty=True)
    fixtures.load_dump(url, NEWEST_DUMP)
    generator.generate(url_connector(url), anchor=ANCHOR, scale=generator.Scale(runs=100, tenants=2))
    _as_if_newest_known_were_1_14_1(monkeypatch)
    before = _row_counts(url)
    with pytest.raises(SchemaDrift) as stopped:
        retention.preflight(url_connector(url), resolve(None, {}), dag_id="dify_retention", run_id="drift", logical_date=ANCHOR)
    message = str(stopped.value)
    for column in (
        "agent_runtime_sessions.workflow_run_id",
        "agent_runtime_sessions.conversation_id",
        "human_input_forms.conversation_id",
        "agent_debug_conversations.conversation_id",
    ):
        assert column in message
    assert "newer than 1.14.1" in message and "Nothing was deleted" in message
    assert _row_counts(url) == before


@pytest.mark.skipif(not NEWEST_DUMP.exists(), reason=REASON)
def test_unknown_dify_without_such_references_runs_and_reports_the_drift(databases, run_dag, monkeypatch, tmp_path):
    url = databases.fresh(empty=True)
    fixtures.load_dump(url, NEWEST_DUMP)
    generator.generate(url_connector(url), anchor=ANCHOR, scale=generator.Scale(runs=300, tenants=2))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop table agent_runtime_sessions, agent_debug_conversations")
        conn.execute("alter table human_input_forms drop column conversation_id")
    _as_if_newest_known_were_1_14_1(monkeypatch)
    dr, xcoms, states = run_dag("dify_retention", url, conf={"dry_run": False}, archive_root=tmp_path / "arch")
    assert dr.state == DagRunState.SUCCESS, states
    with psycopg.connect(url) as conn:
        report = conn.execute("select report from dify_maintenance.history where dag_id = 'dify_retention'").fetchone()[0]
    assert report["dify_version"] == "after 1.14.1" and report["total_deleted"] > 0
    [drift_note] = [n for n in report["notes"] if n.startswith("schema drift:")]
    assert "14 unknown tables (account_step_by_step_tour_states, agent_config_drafts, " in drift_note
    assert "workflow_run_archive_bundles" in drift_note and "human_input_forms.conversation_id" not in drift_note
    assert any("not on Dify's upstream chain" in n for n in report["notes"])
    # an unknown column naming a table this run does not purge is reported, not a reason to stop
    assert "human_input_form_upload_files.upload_file_id -> upload_files" in drift_note


@pytest.mark.skipif(not NEWEST_DUMP.exists(), reason=REASON)
def test_unknown_dify_stops_when_the_policy_says_so(databases, monkeypatch):
    from dify_maintenance.core.errors import SchemaDrift
    from dify_maintenance.core.policy import resolve
    from dify_maintenance.retention import steps as retention

    url = databases.fresh(empty=True)
    fixtures.load_dump(url, NEWEST_DUMP)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop table agent_runtime_sessions, agent_debug_conversations")
        conn.execute("alter table human_input_forms drop column conversation_id")
    _as_if_newest_known_were_1_14_1(monkeypatch)
    pol = resolve(None, {"stop_on_unknown_version": True})
    with pytest.raises(SchemaDrift, match="stop_on_unknown_version"):
        retention.preflight(url_connector(url), pol, dag_id="dify_retention", run_id="drift", logical_date=ANCHOR)
