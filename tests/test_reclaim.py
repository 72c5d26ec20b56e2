"""Space reclamation on real PostgreSQL: the rebuild keeps the definition and the kept rows
exactly, strategies are chosen with reasons, and rewrites wait for locks only as long as allowed."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import psycopg
import pytest
from support.data import ANCHOR

from dify_maintenance.core.db import connection, url_connector
from dify_maintenance.core.errors import LockContention
from dify_maintenance.database import reclaim

TABLE = "workflow_node_executions"
CUTOFF = ANCHOR - timedelta(days=30)


def content(url: str, table: str, where: str = "true") -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            psycopg.sql.SQL("select count(*), coalesce(sum(hashtext(t::text)::bigint), 0) from {} t where " + where).format(
                psycopg.sql.Identifier(table)
            ),
            {"cutoff": CUTOFF},
        ).fetchone()


def decorate(url: str) -> None:
    """Give the table everything a DBA may have added: grants, options, a comment, a serial column."""
    with psycopg.connect(url, autocommit=True) as conn:
        if not conn.execute("select 1 from pg_roles where rolname = 'dm_test_reader'").fetchone():
            conn.execute("create role dm_test_reader")
        conn.execute(f"grant select, update on {TABLE} to dm_test_reader with grant option")
        conn.execute(f"grant select on {TABLE} to public")
        conn.execute(f"alter table {TABLE} set (autovacuum_vacuum_scale_factor = 0.01, fillfactor = 90)")
        conn.execute(f"comment on table {TABLE} is 'node runs, rebuilt by dify-maintenance'")
        conn.execute(f"alter table {TABLE} add column dm_seq bigserial")
        conn.execute(f"alter table {TABLE} replica identity full")
        conn.execute(f"create index dm_test_partial on {TABLE} (created_at) where status = 'failed'")


def test_rebuild_is_identical_in_definition_and_kept_content(databases):
    url = databases.fresh("1.14")
    decorate(url)
    target = url_connector(url)
    with connection(target) as conn:
        before = reclaim.definition(conn, TABLE)
        seq_before = conn.execute("select last_value from workflow_node_executions_dm_seq_seq").fetchone()["last_value"]
    kept = content(url, TABLE, "created_at >= %(cutoff)s")
    assert 0 < kept[0] < content(url, TABLE)[0]
    result = reclaim.rebuild(target, TABLE, keep_column="created_at", keep_from=CUTOFF)
    with connection(target) as conn:
        after = reclaim.definition(conn, TABLE)
        # the serial's sequence survived the swap and still feeds the column
        conn.execute(
            "insert into workflow_node_executions (tenant_id, app_id, workflow_id, triggered_from, workflow_run_id, index, node_id, node_type, title, status, created_by_role, created_by) "
            "select tenant_id, app_id, workflow_id, triggered_from, workflow_run_id, index, node_id, node_type, title, status, created_by_role, created_by from workflow_node_executions limit 1"
        )
        assert conn.execute("select max(dm_seq) from workflow_node_executions").fetchone()["max"] > seq_before
        conn.execute("delete from workflow_node_executions where dm_seq > %s", [seq_before])
    assert after == before
    assert {kind for kind, _, _ in before} >= {"column", "constraint", "index", "owned sequence", "table"}
    assert content(url, TABLE) == kept
    assert result["rows_kept"] == kept[0] and result["bytes_after"] < result["bytes_before"]


def test_rebuild_refuses_a_table_with_a_foreign_key_and_changes_nothing(databases):
    url = databases.fresh("1.14")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table dm_child (id uuid primary key, run_id uuid references workflow_runs(id))")
    before = content(url, "workflow_runs")
    with pytest.raises(reclaim.ReclaimRefused, match="foreign key"):
        reclaim.rebuild(url_connector(url), "workflow_runs", keep_column="created_at", keep_from=CUTOFF)
    assert content(url, "workflow_runs") == before


def test_strategy_choice_states_its_reason(databases):
    url = databases.fresh("1.14")
    with connection(url_connector(url)) as conn:
        caps = reclaim.capabilities(conn)
        stats = reclaim.table_stats(conn, TABLE, caps)
        assert stats["method"] in ("pgstattuple_approx", "estimate")
        small = reclaim.choose(conn, TABLE, "auto", stats, caps)
        assert small[0] == "vacuum" and "reclaimable" in small[1]
        emptied = {**stats, "reclaimable_bytes": stats["heap_bytes"] * 95 // 100, "reclaimable_fraction": 0.95}
        assert reclaim.choose(conn, TABLE, "auto", emptied, caps, min_bytes=0)[0] == "rebuild"
        half = {**stats, "reclaimable_bytes": stats["heap_bytes"] // 2, "reclaimable_fraction": 0.5}
        assert reclaim.choose(conn, TABLE, "auto", half, caps, min_bytes=0)[0] == "vacuum_full"
        no_disk = reclaim.Capabilities(caps.pgstattuple, caps.repack_reason, 1024, caps.server_version_num)
        strategy, reason = reclaim.choose(conn, TABLE, "vacuum_full", half, no_disk, min_bytes=0)
        assert strategy == "vacuum" and "MB free" in reason
        strategy, reason = reclaim.choose(conn, TABLE, "repack", half, caps, min_bytes=0)
        assert strategy == "vacuum" and "pg_repack" in reason


def test_pgstattuple_and_estimate_agree_on_a_purged_table(databases):
    url = databases.fresh("1.14")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create extension if not exists pgstattuple")
        conn.execute(f"delete from {TABLE} where created_at < %s", [CUTOFF])
        conn.execute(f"vacuum analyze {TABLE}")
    with connection(url_connector(url)) as conn:
        caps = reclaim.capabilities(conn)
        measured = reclaim.table_stats(conn, TABLE, caps)
        estimated = reclaim.table_stats(conn, TABLE, reclaim.Capabilities(False, "x", None, caps.server_version_num))
    assert measured["method"] == "pgstattuple_approx" and estimated["method"] == "estimate"
    assert measured["reclaimable_fraction"] > 0.5
    assert abs(measured["reclaimable_fraction"] - estimated["reclaimable_fraction"]) < 0.2


def test_vacuum_full_backs_off_on_a_held_lock_and_gives_up_cleanly(databases):
    url = databases.fresh("1.14")
    holder = psycopg.connect(url)
    holder.execute(f"select count(*) from {TABLE}")  # ACCESS SHARE held until rollback
    before = content(url, TABLE)
    try:
        with pytest.raises(LockContention, match="could not get the lock"):
            reclaim.run(url_connector(url), TABLE, "vacuum_full", lock_timeout_ms=50, lock_retries=1)
    finally:
        holder.rollback()
        holder.close()
    assert content(url, TABLE) == before


def test_rebuild_waits_for_readers_only_at_the_swap(databases):
    """A reader holding its lock delays the swap; once it ends, the retried swap commits."""
    url = databases.fresh("1.14")
    holder = psycopg.connect(url)
    holder.execute(f"select count(*) from {TABLE}")
    # a sleeping thread, not threading.Timer: under make test-future (libfaketime moves the
    # monotonic clock too) a timed wait on a lock computes a deadline a year away
    release = threading.Thread(target=lambda: (time.sleep(1.5), holder.rollback()))
    release.start()
    try:
        result = reclaim.rebuild(url_connector(url), TABLE, lock_timeout_ms=200, lock_retries=4)
    finally:
        release.join()
        holder.close()
    assert result["rows_kept"] == content(url, TABLE)[0]
