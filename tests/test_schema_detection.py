"""Version detection and the engine's adaptation to what each schema has."""

from __future__ import annotations

import psycopg
import pytest

from dify_maintenance.core import catalog
from dify_maintenance.core.db import connection, url_connector
from dify_maintenance.core.errors import NotDifyDatabase, UnsupportedDifyVersion
from dify_maintenance.core.policy import resolve
from dify_maintenance.core.schema import detect_version, snapshot
from dify_maintenance.retention.plan import plan_root


def detect(url):
    with connection(url_connector(url)) as conn:
        return detect_version(conn, snapshot(conn))


@pytest.mark.parametrize(("generation", "version"), [("1.14", "1.14.1"), ("0.15", "0.15.3")])
def test_detects_fixture_versions(generation, version, databases):
    assert detect(databases.fresh(generation)).version == version


def test_revision_between_releases_maps_to_first_release(databases):
    url = databases.fresh("1.14")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("update alembic_version set version_num = '3334862ee907'")
    found = detect(url)
    assert (found.version, found.is_release_head) == ("1.12.0", False)


@pytest.mark.parametrize(
    ("revision", "error"), [("ffffffffffff", UnsupportedDifyVersion), ("64b051264f32", UnsupportedDifyVersion)]
)
def test_unknown_or_too_old_heads_stop(revision, error, databases):
    url = databases.fresh("1.14")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("update alembic_version set version_num = %s", [revision])
    with pytest.raises(error):
        detect(url)


def test_not_dify(databases):
    with pytest.raises(NotDifyDatabase):
        detect(databases.fresh(empty=True))


@pytest.mark.parametrize(("generation", "runs_walk", "messages_walk"), [("1.14", "keyset", "keyset"), ("0.15", "ctid", "keyset")])
def test_walk_follows_indexes(generation, runs_walk, messages_walk, databases):
    """1.11.3+ has workflow_runs(created_at, id); before that there is no created_at index, so
    the runs are walked in one forward pass over heap blocks."""
    url = databases.fresh(generation)
    with connection(url_connector(url)) as conn:
        snap = snapshot(conn)
    pol = resolve(None, {})
    assert plan_root(catalog.WORKFLOW_LOGS.roots[0], snap, pol).walk == runs_walk
    assert plan_root(catalog.MESSAGES.roots[0], snap, pol).walk == messages_walk


def test_walk_without_tid_range_scans_is_one_primary_key_pass(databases):
    """PostgreSQL 13 and older cannot scan ctid ranges; the walk falls back to the primary key."""
    url = databases.fresh("0.15")
    with connection(url_connector(url)) as conn:
        snap = snapshot(conn)
    snap.server_version_num = 130011
    plan = plan_root(catalog.WORKFLOW_LOGS.roots[0], snap, resolve(None, {}))
    assert plan.walk == "pk" and "PostgreSQL 14" in plan.walk_reason


def test_missing_tables_are_skipped_with_a_note(databases):
    url = databases.fresh("0.15")
    with connection(url_connector(url)) as conn:
        snap = snapshot(conn)
    plan = plan_root(catalog.WORKFLOW_LOGS.roots[0], snap, resolve(None, {}))
    tables = {p.table for p in plan.paths}
    assert "workflow_pauses" not in tables and "workflow_node_executions" in tables
    assert any("workflow_pauses" in n for n in plan.notes)


@pytest.mark.parametrize(
    ("generation", "index"),
    [("1.14", "workflow_node_execution_workflow_run_id_idx"), ("0.15", "workflow_node_execution_workflow_run_idx")],
)
def test_child_lookup_index_per_generation(generation, index, databases):
    """0.15 only has the composite index with workflow_run_id last; the parent's tenant, app and
    workflow columns make it usable. Lookups without any index are reported."""
    url = databases.fresh(generation)
    with connection(url_connector(url)) as conn:
        snap = snapshot(conn)
    plan = plan_root(catalog.WORKFLOW_LOGS.roots[0], snap, resolve(None, {}))
    served = {(lk.table, lk.column): lk.index for lk in plan.lookups}
    assert served[("workflow_node_executions", "workflow_run_id")] == index
    assert served[("workflow_app_logs", "workflow_run_id")] == (
        None if generation == "0.15" else "workflow_app_log_workflow_run_id_idx"
    )
