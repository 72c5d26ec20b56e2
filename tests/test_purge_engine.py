"""The purge engine without Airflow: semantics, archive round trip, resume after a crash."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
import pytest
from support.data import ANCHOR
from support.purge import fingerprints, run_all

from dify_maintenance.core import catalog, state
from dify_maintenance.core.db import url_connector
from dify_maintenance.core.policy import resolve
from dify_maintenance.retention import batches, progress, restore, verify
from dify_maintenance.retention import steps as retention
from dify_maintenance.storage.stores import StoreConfig


@pytest.mark.parametrize("generation", ["1.14", "0.15"])
def test_purge_then_restore_gives_back_identical_tables(generation, databases, tmp_path):
    url = databases.fresh(generation)
    before = fingerprints(url)
    store = StoreConfig("fs", {"root": str(tmp_path / "archive")})
    ctx, results, _ = run_all(url, store, "roundtrip")
    assert fingerprints(url) != before
    restored = restore.restore(url_connector(url), store, ctx["archive_prefix"])
    assert sum(s["inserted"] for s in restored.values()) == sum(c["deleted"] for r in results for c in r["tables"].values())
    assert fingerprints(url) == before
    again = restore.restore(url_connector(url), store, ctx["archive_prefix"])  # idempotent
    assert sum(s["inserted"] for s in again.values()) == 0
    assert fingerprints(url) == before


def test_semantics_of_what_is_kept(databases, tmp_path):
    url = databases.fresh("1.14")
    run_all(url, StoreConfig("fs", {"root": str(tmp_path / "a")}), "semantics")
    with psycopg.connect(url) as conn:
        q = lambda sql, *p: conn.execute(sql, p).fetchone()[0]  # noqa: E731
        msg_cutoff = ANCHOR - timedelta(days=90)
        # every remaining conversation older than the cutoff still has messages or an annotation
        assert (
            q(
                """select count(*) from conversations c where c.created_at < %s and c.updated_at < %s
               and not exists (select 1 from messages m where m.conversation_id = c.id)
               and not exists (select 1 from message_annotations a where a.conversation_id = c.id)""",
                msg_cutoff,
                msg_cutoff,
            )
            == 0
        )
        # no message points at a missing conversation, no end user referenced by a conversation vanished
        assert (
            q("select count(*) from messages m where not exists (select 1 from conversations c where c.id = m.conversation_id)")
            == 0
        )
        assert (
            q(
                "select count(*) from conversations c where c.from_end_user_id is not null "
                "and not exists (select 1 from end_users e where e.id = c.from_end_user_id)"
            )
            == 0
        )
        # curated content stays, with its message
        assert (
            q("select count(*) from saved_messages s where not exists (select 1 from messages m where m.id = s.message_id)") == 0
        )
        assert q("select count(*) from saved_messages") > 0
        # pre-existing orphans older than the cutoff were swept
        assert (
            q(
                "select count(*) from workflow_node_executions n where n.workflow_run_id is not null "
                "and not exists (select 1 from workflow_runs r where r.id = n.workflow_run_id)"
            )
            == 0
        )
        assert q("select count(*) from workflow_node_execution_offload where node_execution_id is null") == 0
        # in-flight runs and their node executions stay
        assert q("select count(*) from workflow_runs where status in ('running', 'paused')") > 0


@pytest.mark.parametrize("generation", ["1.14", "0.15"])
def test_resume_after_crash_matches_a_clean_run(generation, databases, tmp_path, monkeypatch):
    """A batch that dies at commit time rolls back whole; the retry resumes, skipping nothing.
    On 1.14 the runs are walked by keyset, on 0.15 by ctid block ranges."""
    clean = databases.fresh(generation)
    crashed = databases.fresh(generation)
    run_all(clean, StoreConfig("fs", {"root": str(tmp_path / "clean")}), "resume")
    store = StoreConfig("fs", {"root": str(tmp_path / "crashed")})
    connector = url_connector(crashed)
    pol = resolve(None, {"batch_size": 50})
    ctx = retention.preflight(connector, pol, dag_id="dify_retention", run_id="resume", logical_date=ANCHOR)

    real_save = state.save_progress
    calls = {"n": 0}

    def dying_save(conn, run_key, progress, deleted=None):
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("worker killed")
        real_save(conn, run_key, progress, deleted)

    monkeypatch.setattr(state, "save_progress", dying_save)
    with pytest.raises(RuntimeError, match="worker killed"):
        retention.run_purge(connector, ctx, "workflow_logs", pol, store)
    with psycopg.connect(crashed) as conn:
        done = conn.execute("select sum(batches) from dify_maintenance.progress").fetchone()[0]
    assert done == 3  # three batches committed, the fourth rolled back
    monkeypatch.setattr(state, "save_progress", real_save)
    results = [retention.run_purge(connector, ctx, fam, pol, store) for fam in ctx["families"]]
    verified = verify.verify(connector, ctx, pol, results, store)
    assert verified["failed"] == 0
    assert fingerprints(crashed) == fingerprints(clean)


def test_lock_timeout_backs_off_then_gives_up_cleanly(databases, tmp_path):
    url = databases.fresh("1.14")
    connector = url_connector(url)
    pol = resolve(None, {"lock_timeout_ms": 50, "lock_retries": 1, "families": ["workflow_logs"], "archive": False})
    ctx = retention.preflight(connector, pol, dag_id="dify_retention", run_id="locks", logical_date=ANCHOR)
    before = fingerprints(url)
    with psycopg.connect(url) as blocker:
        blocker.execute("lock table workflow_app_logs in access exclusive mode")
        with pytest.raises(Exception, match="lock timeouts"):
            retention.run_purge(connector, ctx, "workflow_logs", pol, None)
        blocker.rollback()
    assert fingerprints(url) == before


def test_second_run_is_refused_while_one_holds_the_database(databases):
    from dify_maintenance.core.errors import AnotherRunActive

    url = databases.fresh("1.14")
    connector = url_connector(url)
    pol = resolve(None, {})
    retention.preflight(connector, pol, dag_id="dify_retention", run_id="first", logical_date=ANCHOR)
    with pytest.raises(AnotherRunActive, match="dify_retention/first"):
        retention.preflight(connector, pol, dag_id="dify_pre_upgrade_cleanup", run_id="second", logical_date=ANCHOR)
    # a retry of the same run is welcome and sees the cutoffs fixed the first time
    again = retention.preflight(connector, pol, dag_id="dify_retention", run_id="first", logical_date=ANCHOR + timedelta(days=40))
    assert again["cutoffs"]["workflow_logs"] == (ANCHOR - timedelta(days=30)).isoformat()


def test_dry_run_engine_reports_without_writing(databases):
    url = databases.fresh("1.14")
    before = fingerprints(url)
    connector = url_connector(url)
    pol = resolve(None, {"dry_run": True})
    ctx = retention.preflight(connector, pol, dag_id="dify_retention", run_id="dry", logical_date=ANCHOR)
    result = batches.purge_family(connector, ctx, catalog.WORKFLOW_LOGS, pol, None)
    assert result["tables"]["workflow_node_executions"]["would_delete"] > 0
    assert fingerprints(url) == before


def test_tenant_scope_leaves_other_tenants_alone(databases, tmp_path):
    from support.data import SMALL

    from devtools.generator import tenant_ids

    url = databases.fresh("1.14")
    first, second = (str(t) for t in tenant_ids("dify", SMALL))
    other = f"tenant_id = '{second}'"
    before = {t: checksum(url, t, other) for t in ("workflow_runs", "workflow_node_executions", "end_users")}
    run_all(url, StoreConfig("fs", {"root": str(tmp_path / "a")}), "scoped", tenant_ids=[first])
    assert {t: checksum(url, t, other) for t in before} == before
    with psycopg.connect(url) as conn:
        left = conn.execute(
            "select count(*) from workflow_runs r where tenant_id = %s and created_at < %s and status = 'succeeded' "
            "and not exists (select 1 from messages m where m.workflow_run_id = r.id)",
            [first, ANCHOR - timedelta(days=30)],
        ).fetchone()[0]
    assert left == 0


def checksum(url: str, table: str, where: str) -> str:
    with psycopg.connect(url) as conn:
        return conn.execute(
            f"select count(*)::text || md5(coalesce(string_agg(md5(t::text), '' order by md5(t::text)), '')) from {table} t where {where}"
        ).fetchone()[0]


def test_stop_switch_defers_and_the_next_run_finishes(databases, tmp_path):
    """An operator stop ends the purge after the current batch; the report says deferred and
    verify does not pretend the family is done; a retry of the run finishes the rest."""
    from dify_maintenance.retention import report

    url = databases.fresh("1.14")
    store = StoreConfig("fs", {"root": str(tmp_path / "a")})
    connector = url_connector(url)
    pol = resolve(None, {"batch_size": 50, "families": ["workflow_logs"]})
    ctx = retention.preflight(connector, pol, dag_id="dify_retention", run_id="stop", logical_date=ANCHOR)
    asked = {"n": 0}

    def stop_after_three() -> bool:
        asked["n"] += 1
        return asked["n"] > 3

    import dify_maintenance.retention.steps as r

    r.STOP_POLL_SECONDS = 0.0
    first = retention.run_purge(connector, ctx, "workflow_logs", pol, store, stop_after_three)
    assert first["deferred"] == "stopped by the operator (stop switch)"
    assert first["batches"] == 3
    verified = verify.verify(connector, ctx, pol, [first], store)  # archives match, remaining is expected
    rep = report.build(ctx, {}, {}, [first], {}, verified, "success")
    assert rep["outcome"] == "deferred"
    second = retention.run_purge(connector, ctx, "workflow_logs", pol, store)
    assert second["deferred"] is None
    assert verify.verify(connector, ctx, pol, [second], store)["failed"] == 0


def test_time_budget_defers(databases):
    url = databases.fresh("1.14")
    connector = url_connector(url)
    pol = resolve(None, {"time_budget_minutes": 1, "families": ["workflow_logs"], "archive": False})
    ctx = retention.preflight(connector, pol, dag_id="dify_retention", run_id="budget", logical_date=ANCHOR)
    long_ago = datetime.fromisoformat(ctx["started_at"]) - timedelta(days=1)
    ctx = {**ctx, "started_at": long_ago.isoformat()}  # the run began a day ago: the 1-minute budget is spent
    result = retention.run_purge(connector, ctx, "workflow_logs", pol, None)
    assert result["deferred"] == "time budget of 1 minutes used up"
    assert result["batches"] == 0


def test_health_gate_pauses_on_a_long_transaction_then_defers(databases, tmp_path):
    """A transaction holding back the xmin horizon makes the purge pause and re-check; when it
    stays open past the allowed wait, the family is deferred with the reason, nothing half-done."""
    import time

    url = databases.fresh("1.14")
    connector = url_connector(url)
    pol = resolve(
        None,
        {
            "families": ["workflow_logs"],
            "archive": False,
            "max_transaction_age_seconds": 1,
            "health_pause_seconds": 1,
            "health_max_wait_seconds": 2,
        },
    )
    ctx = retention.preflight(connector, pol, dag_id="dify_retention", run_id="health", logical_date=ANCHOR)
    before = fingerprints(url)
    with psycopg.connect(url) as blocker:
        blocker.execute("select txid_current()")  # an open transaction with an xid, as a stuck client has
        time.sleep(1.5)
        started = time.monotonic()
        result = retention.run_purge(connector, ctx, "workflow_logs", pol, None)
        waited = time.monotonic() - started
        blocker.rollback()
    assert result["deferred"].startswith("health gate: a transaction open for")
    assert result["batches"] == 0 and waited >= 2
    assert fingerprints(url) == before
    resumed = retention.run_purge(connector, ctx, "workflow_logs", pol, None)
    assert resumed["deferred"] is None and resumed["batches"] > 0


def test_a_long_transaction_in_another_database_does_not_hold_the_purge(databases, tmp_path):
    """Only what holds back this database's xmin horizon counts: a transaction left open in
    another database of the same server (a shared server, another app) must not defer us."""
    import time

    url = databases.fresh("1.14")
    elsewhere = databases.fresh(empty=True)
    connector = url_connector(url)
    pol = resolve(
        None,
        {"families": ["workflow_logs"], "archive": False, "max_transaction_age_seconds": 1, "health_max_wait_seconds": 0},
    )
    ctx = retention.preflight(connector, pol, dag_id="dify_retention", run_id="other-db", logical_date=ANCHOR)
    with psycopg.connect(elsewhere) as blocker:
        blocker.execute("select txid_current()")
        time.sleep(1.5)
        result = retention.run_purge(connector, ctx, "workflow_logs", pol, None)
        blocker.rollback()
    assert result["deferred"] is None and result["batches"] > 0


@pytest.mark.parametrize(("target", "direction"), [(0.001, "shrinks"), (30.0, "grows")])
def test_batch_size_adapts_to_the_target_duration(target, direction, databases):
    url = databases.fresh("1.14")
    connector = url_connector(url)
    pol = resolve(None, {"families": ["workflow_logs"], "archive": False, "batch_size": 40, "batch_target_seconds": target})
    ctx = retention.preflight(connector, pol, dag_id="dify_retention", run_id=f"adapt-{direction}", logical_date=ANCHOR)
    sizes = retention.run_purge(connector, ctx, "workflow_logs", pol, None)["batch_sizes"]["workflow_runs"]
    if direction == "shrinks":
        assert sizes["last"] < 40 and sizes["max"] == 40
    else:
        assert sizes["max"] > 40 and sizes["min"] == 40
    assert (
        verify.verify(connector, ctx, pol, [retention.run_purge(connector, ctx, "workflow_logs", pol, None)], None)["failed"] == 0
    )


def test_batch_sizer_follows_gitlab_steps():
    from dify_maintenance.retention.batch_sizer import BatchSizer

    sizer = BatchSizer(size=1000, target_seconds=0.5, max_size=1200)
    assert sizer.record(1.0) == 800  # slower than target: -20 %
    sizer = BatchSizer(size=1000, target_seconds=0.5, max_size=1200)
    assert sizer.record(0.1) == 1100  # well under target: +10 %
    assert sizer.record(0.1) == 1200  # capped
    assert sizer.record(0.47) == 1200  # within 90-100 % of target: unchanged


KILLED_WORKER = """
import sys, time
sys.path.insert(0, {plugins!r})
from datetime import datetime, timedelta
from dify_maintenance.retention import batches
from dify_maintenance.retention import steps as retention
from dify_maintenance.storage.stores import StoreConfig
from dify_maintenance.core.db import url_connector
from dify_maintenance.core.policy import resolve

slow = batches._session
def session_then_pause(conn, policy, *args):  # test-only: make batches slow enough to be killed mid-run
    slow(conn, policy, *args)
    time.sleep(0.05)
batches._session = session_then_pause
pol = resolve(None, {{"batch_size": 10, "adaptive_batches": False, "families": ["workflow_logs"]}})
connector = url_connector({url!r})
ctx = retention.preflight(connector, pol, dag_id="dify_retention", run_id="sigkill", logical_date=datetime.fromisoformat({anchor!r}))
retention.run_purge(connector, ctx, "workflow_logs", pol, StoreConfig("fs", {{"root": {archive!r}}}))
"""


def test_resume_after_sigkill_of_the_purging_process(databases, tmp_path):
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    clean = databases.fresh("1.14")
    killed = databases.fresh("1.14")
    pol = resolve(None, {"batch_size": 10, "adaptive_batches": False, "families": ["workflow_logs"]})
    connector = url_connector(clean)
    ctx = retention.preflight(connector, pol, dag_id="dify_retention", run_id="sigkill", logical_date=ANCHOR)
    retention.run_purge(connector, ctx, "workflow_logs", pol, StoreConfig("fs", {"root": str(tmp_path / "clean")}))

    archive_root = tmp_path / "archive"
    script = KILLED_WORKER.format(
        plugins=str(Path(__file__).resolve().parents[1] / "plugins"),
        url=killed,
        anchor=ANCHOR.isoformat(),
        archive=str(archive_root),
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    batches = 0
    deadline = time.monotonic() + 60
    while batches < 5 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        with psycopg.connect(killed) as conn:
            present = conn.execute("select to_regclass('dify_maintenance.progress') is not null").fetchone()[0]
            if present:
                batches = conn.execute("select coalesce(sum(batches), 0) from dify_maintenance.progress").fetchone()[0]
    assert proc.poll() is None, "the purge finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert batches >= 5

    # the retry (same run) re-claims, reads the same cutoffs and resumes from the last commit
    connector = url_connector(killed)
    store = StoreConfig("fs", {"root": str(archive_root)})
    ctx = retention.preflight(connector, pol, dag_id="dify_retention", run_id="sigkill", logical_date=ANCHOR)
    result = retention.run_purge(connector, ctx, "workflow_logs", pol, store)
    assert verify.verify(connector, ctx, pol, [result], store)["failed"] == 0
    assert fingerprints(killed) == fingerprints(clean)


def test_unindexed_lookup_on_a_big_table_blocks_its_family_and_names_the_index(databases, tmp_path):
    """0.15 has no index on workflow_app_logs.workflow_run_id: with building switched off, above
    the size limit the family stops before its first batch, says which index is missing, and
    deletes nothing."""
    url = databases.fresh("0.15")
    before = fingerprints(url)
    connector = url_connector(url)
    pol = resolve(None, {"families": ["workflow_logs"], "unindexed_lookup_max_mb": 0, "build_missing_indexes": False})
    ctx = retention.preflight(connector, pol, dag_id="dify_retention", run_id="blocked", logical_date=ANCHOR)
    result = retention.run_purge(connector, ctx, "workflow_logs", pol, StoreConfig("fs", {"root": str(tmp_path / "a")}))
    assert result["deferred"] and "workflow_app_logs.workflow_run_id" in result["deferred"]
    assert "CREATE INDEX CONCURRENTLY dm_idx_workflow_app_logs_workflow_run_id" in result["deferred"]
    assert result["batches"] == 0
    assert fingerprints(url) == before


@pytest.mark.parametrize("keep", [False, True])
def test_missing_index_is_built_concurrently_used_and_kept_or_dropped(keep, databases, tmp_path):
    """By default a missing index on a big table is built (partial, ours by name), used, recorded
    and kept for the next runs; with keep_built_indexes off the run drops it at its end."""
    url = databases.fresh("0.15")
    connector = url_connector(url)
    pol = resolve(
        None, {"families": ["workflow_logs"], "unindexed_lookup_max_mb": 0, **({} if keep else {"keep_built_indexes": False})}
    )
    store = StoreConfig("fs", {"root": str(tmp_path / "a")})
    ctx = retention.preflight(connector, pol, dag_id="dify_retention", run_id="build", logical_date=ANCHOR)
    result = retention.run_purge(connector, ctx, "workflow_logs", pol, store)
    assert result["deferred"] is None
    assert "dm_idx_workflow_app_logs_workflow_run_id" in result["indexes"]["built"]
    assert result["tables"]["workflow_app_logs"]["deleted"] > 0
    assert verify.verify(connector, ctx, pol, [result], store)["failed"] == 0
    index_query = (
        "select indisvalid from pg_index where indexrelid = to_regclass('public.dm_idx_workflow_app_logs_workflow_run_id')"
    )
    with psycopg.connect(url) as conn:
        assert conn.execute(index_query).fetchone() == (True,)
        assert conn.execute(
            "select pg_get_indexdef('public.dm_idx_workflow_app_logs_workflow_run_id'::regclass) like '%WHERE (workflow_run_id IS NOT NULL)'"
        ).fetchone() == (True,)
        recorded = conn.execute("select table_name, column_name from dify_maintenance.built_indexes").fetchall()
        assert ("workflow_app_logs", "workflow_run_id") in recorded
    dropped = retention.drop_built_indexes(connector, pol)
    with psycopg.connect(url) as conn:
        present = conn.execute(index_query).fetchone()
    if keep:
        assert dropped == [] and present == (True,)
    else:
        assert "dm_idx_workflow_app_logs_workflow_run_id" in dropped and present is None


@pytest.mark.parametrize(("generation", "expected"), [("1.14", "rows left (planner estimate)"), ("0.15", "block ")])
def test_progress_lines_say_what_is_left(generation, expected, databases, monkeypatch, caplog):
    """Keyset walks estimate rows left from the planner, ctid walks know their block position."""
    url = databases.fresh(generation)
    monkeypatch.setattr(progress, "PROGRESS_EVERY_SECONDS", 0.0)
    connector = url_connector(url)
    pol = resolve(None, {"families": ["workflow_logs"], "batch_size": 50, "adaptive_batches": False, "archive": False})
    ctx = retention.preflight(connector, pol, dag_id="dify_retention", run_id="progress", logical_date=ANCHOR)
    with caplog.at_level("INFO", logger="dify_maintenance.retention.progress"):
        retention.run_purge(connector, ctx, "workflow_logs", pol, None)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("workflow_logs/workflow_runs")]
    assert any(expected in line and "left" in line for line in lines), lines
    assert lines[-1].endswith("done")


def test_a_batch_that_hits_the_statement_timeout_is_retried_at_half_size(databases, tmp_path, caplog):
    """A statement slower than statement_timeout_ms (here: a trigger that sleeps once) rolls its
    batch back whole; the batch is tried again at half the size and the run ends as a clean one."""
    clean = databases.fresh("1.14")
    slow = databases.fresh("1.14")
    run_all(clean, StoreConfig("fs", {"root": str(tmp_path / "clean")}), "timeout", families=["workflow_logs"])
    with psycopg.connect(slow, autocommit=True) as conn:
        conn.execute(
            """
            CREATE SEQUENCE slow_once;
            CREATE FUNCTION sleep_once() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF nextval('slow_once') = 1 THEN PERFORM pg_sleep(1); END IF; RETURN NULL; END $$;
            CREATE TRIGGER slow AFTER DELETE ON workflow_node_executions FOR EACH STATEMENT EXECUTE FUNCTION sleep_once();
            """
        )
    caplog.set_level("WARNING", logger="dify_maintenance.retention.batches")
    run_all(
        slow, StoreConfig("fs", {"root": str(tmp_path / "slow")}), "timeout", families=["workflow_logs"], statement_timeout_ms=300
    )
    assert any("hit the statement timeout; retrying at half size" in r.getMessage() for r in caplog.records)
    with psycopg.connect(slow, autocommit=True) as conn:
        assert conn.execute("select last_value from slow_once").fetchone()[0] > 1  # the retry ran the statement again
        conn.execute("drop trigger slow on workflow_node_executions")
    assert fingerprints(slow) == fingerprints(clean)


def test_a_family_waiting_for_another_familys_index_build_does_not_deadlock_it(databases):
    """Families purged in parallel take turns building missing indexes. The one that waits must
    not wait inside a statement: CREATE INDEX CONCURRENTLY waits for every open snapshot, so the
    builder and the waiter would wait for each other (found by bench/purge.py on 0.15)."""
    import threading
    import time

    from dify_maintenance.core.db import connection
    from dify_maintenance.retention import indexes
    from dify_maintenance.retention.indexes import Lookup

    url = databases.fresh("1.14")
    pol = resolve(None, {"build_missing_indexes": True, "unindexed_lookup_max_mb": 0})
    outcome: dict = {}

    with connection(url_connector(url)) as conn:
        state.ensure_schema(conn)

    def second_family() -> None:
        try:
            with connection(url_connector(url)) as conn:
                lookup = Lookup("messages", "from_end_user_id", None, "keep rule 'has messages'")
                outcome["built"] = indexes.prepare(conn, [lookup], pol, build=True).built
        except Exception as exc:  # noqa: BLE001 - the assertion below names it
            outcome["error"] = exc

    with psycopg.connect(url, autocommit=True) as builder:  # the first family, mid-build
        builder.execute("select pg_advisory_lock(hashtext('dify_maintenance.indexes'))")
        waiter = threading.Thread(target=second_family)
        waiter.start()
        time.sleep(1.0)  # the second family is waiting for the lock now
        builder.execute("set lock_timeout = '20s'")
        builder.execute("create index concurrently first_family_idx on conversations (from_end_user_id)")
        builder.execute("select pg_advisory_unlock(hashtext('dify_maintenance.indexes'))")
        waiter.join(60)
    assert "error" not in outcome, outcome
    assert outcome["built"] == ["dm_idx_messages_from_end_user_id"]


def test_rows_longer_than_a_piece_go_out_in_pieces_and_come_back_whole(databases, tmp_path, monkeypatch):
    """A deleted row over ROW_PIECE characters leaves the batch statement in pieces (so no buffer
    holds a 50 MB row whole: bench/memory.py); the archive part still holds it whole, byte for
    byte, multi-byte characters and escapes included."""
    url = databases.fresh("1.14")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE workflow_node_executions SET outputs = %s WHERE id IN (SELECT id FROM workflow_node_executions LIMIT 20)",
            ['{"text": "' + "é\\\\n\\t¿" * 40 + '"}'],
        )
    before = fingerprints(url)
    monkeypatch.setattr(batches, "ROW_PIECE", 37)
    store = StoreConfig("fs", {"root": str(tmp_path / "archive")})
    ctx, results, _ = run_all(url, store, "pieces", families=["workflow_logs"])
    assert results[0]["tables"]["workflow_node_executions"]["deleted"] > 0
    restore.restore(url_connector(url), store, ctx["archive_prefix"])
    assert fingerprints(url) == before
