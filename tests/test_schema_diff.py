"""Schema diff on the real Dify dumps: the manual `pg_dump -s` + editor routine, automated."""

from __future__ import annotations

import pytest
from support.data import ANCHOR
from support.env import SHARED_SCHEMAS

from devtools import fixtures, generator
from dify_maintenance.core.db import connection, url_connector
from dify_maintenance.database import schema_diff, upgrade_impact

DUMPS = {v: SHARED_SCHEMAS / f"dify-{v}.sql" for v in ("0.14.2", "0.15.3", "1.14.1", "1.16.1")}
pytestmark = pytest.mark.skipif(not all(p.is_file() for p in DUMPS.values()), reason=f"real dumps not in {SHARED_SCHEMAS}")


@pytest.fixture(scope="module")
def snapshots(pg_admin):
    admin = url_connector(pg_admin)
    return {v: schema_diff.from_dump(admin, p) for v, p in DUMPS.items()}


def lines(changes) -> list[str]:
    return [c.line() for c in changes]


def test_0142_to_0153_flags_the_total_tokens_rewrite_and_the_new_tables(snapshots):
    changes = schema_diff.diff(snapshots["0.14.2"], snapshots["0.15.3"])
    rewrite = [c for c in changes if c.impact == schema_diff.REWRITE]
    assert [(c.table, c.what) for c in rewrite] == [("workflow_runs", "column total_tokens: integer -> bigint")]
    new = {c.table: c.what for c in changes if c.impact == schema_diff.NEW_TABLE}
    assert set(new) == {"child_chunks", "dataset_auto_disable_logs"}
    assert "child_chunk_dataset_id_idx" in new["child_chunks"] and "child_chunk_pkey" in new["child_chunks"]
    for index in (
        "dataset_auto_disable_log_created_atx",
        "dataset_auto_disable_log_dataset_idx",
        "dataset_auto_disable_log_tenant_idx",
    ):
        assert index in new["dataset_auto_disable_logs"]


def test_0153_to_1141_flags_the_created_at_indexes_as_blocking_builds(snapshots):
    changes = schema_diff.diff(snapshots["0.15.3"], snapshots["1.14.1"])
    builds = {(c.table, c.what.split(":")[0]) for c in changes if c.impact == schema_diff.INDEX_BUILD}
    assert ("workflow_runs", "index workflow_run_created_at_id_idx added") in builds
    assert ("messages", "index message_created_at_id_idx added") in builds
    assert ("workflow_node_executions", "index workflow_node_execution_workflow_run_id_idx added") in builds
    assert ("workflow_app_logs", "index workflow_app_log_workflow_run_id_idx added") in builds
    dropped = {(c.table, c.what) for c in changes if c.impact == schema_diff.METADATA}
    assert ("workflow_runs", "column sequence_number dropped") in dropped
    assert ("messages", "index message_created_at_idx dropped") in dropped
    assert not any(c.table == "workflow_runs" and c.impact == schema_diff.REWRITE for c in changes)
    assert {"workflow_pauses", "workflow_trigger_logs"} <= {c.table for c in changes if c.impact == schema_diff.NEW_TABLE}


def test_1141_to_1161_names_the_new_tables_and_indexes_and_touches_no_big_table(snapshots):
    changes = schema_diff.diff(snapshots["1.14.1"], snapshots["1.16.1"])
    new = {c.table: c.what for c in changes if c.impact == schema_diff.NEW_TABLE}
    for table in (
        "agent_runtime_sessions",
        "human_input_form_upload_files",
        "human_input_form_upload_tokens",
        "agent_debug_conversations",
        "agent_drive_files",
        "workflow_run_archive_bundles",
        "app_stars",
        "customized_snippets",
        "credential_permissions",
    ):
        assert table in new
    assert "agent_runtime_session_workflow_lookup_idx" in new["agent_runtime_sessions"]
    assert "workflow_run_archive_bundle_tenant_month_idx" in new["workflow_run_archive_bundles"]
    touched = {c.table for c in changes if c.impact != schema_diff.NEW_TABLE}
    assert "human_input_forms" in touched and "apps" in touched  # conversation_id; maintainer and its index
    big = {"workflow_runs", "workflow_node_executions", "workflow_app_logs", "messages", "conversations", "end_users"}
    assert not touched & big
    assert not [c for c in changes if c.impact == schema_diff.REWRITE]
    # and the migrations that lock or scan tables on the way, from the impact data
    ahead = {(m["release"], m["table"]) for m in upgrade_impact.migrations_between("1.14.1", "1.16.1")}
    assert {("1.15.0", "apps"), ("1.15.0", "datasets"), ("1.15.0", "end_users")} <= ahead
    assert upgrade_impact.known_targets()[-1] == "1.16.1"


def test_changes_are_sized_by_the_live_table(databases, snapshots):
    url = databases.fresh(empty=True)
    fixtures.load_dump(url, DUMPS["0.15.3"])
    generator.generate(url_connector(url), anchor=ANCHOR, scale=generator.Scale(runs=300, tenants=2))
    with connection(url_connector(url)) as conn:
        live = schema_diff.take(conn)
        sizes = schema_diff.table_sizes(conn)
    changes = schema_diff.size(
        schema_diff.diff(live, snapshots["1.14.1"]), sizes, upgrade_impact.impact_data()["rates_mb_per_second"]
    )
    runs_index = next(c for c in changes if c.table == "workflow_runs" and "workflow_run_created_at_id_idx" in c.what)
    assert runs_index.bytes == sizes["workflow_runs"]["heap_bytes"] > 0 and runs_index.seconds > 0
    assert changes[0].impact == schema_diff.REWRITE  # costliest kinds first
    summary = schema_diff.summary(changes)
    assert summary["matches"] is False and summary["seconds_locked"] > 0


def test_after_the_upgrade_the_database_matches_the_target(databases, snapshots, tmp_path):
    """Used after an upgrade: a database at the target version diffs empty against the target's dump,
    also through a saved snapshot file."""
    url = databases.fresh(empty=True)
    fixtures.load_dump(url, DUMPS["0.15.3"])
    with connection(url_connector(url)) as conn:
        live = schema_diff.take(conn)
    assert schema_diff.diff(live, snapshots["0.15.3"]) == []
    saved = tmp_path / "target.json"
    saved.write_text(snapshots["0.15.3"].to_json())
    assert schema_diff.diff(live, schema_diff.load(url_connector(url), str(saved))) == []
    assert schema_diff.diff(live, snapshots["1.14.1"]) != []


def test_widening_a_varchar_is_not_a_rewrite():
    assert not schema_diff._type_change_rewrites("character varying(40)", "character varying(255)")
    assert not schema_diff._type_change_rewrites("character varying(40)", "text")
    assert schema_diff._type_change_rewrites("character varying(255)", "character varying(40)")
    assert schema_diff._type_change_rewrites("integer", "bigint")
    assert schema_diff._type_change_rewrites("json", "jsonb")


def test_upgrade_impact_lists_only_migrations_ahead():
    kinds = [(m["release"], m["table"]) for m in upgrade_impact.migrations_between("0.14.2", "0.15.3")]
    assert kinds == [("0.15.0", "workflow_runs")]
    later = upgrade_impact.migrations_between("0.15.3", "1.14.1")
    assert ("1.11.3", "workflow_runs") in [(m["release"], m["table"]) for m in later]
    assert all(m["release"] != "0.15.0" for m in later)
    with pytest.raises(Exception, match="older"):
        upgrade_impact.validate_target("1.8.1", "0.15.3")
