"""Rules of the purge that a plain age cutoff gets wrong: a run two messages name, the index a
real deployment lacks, a run limited to tenants beside another tenant's leftovers, a reference
verify has to repair, a cutoff in the future, whole conversations."""

from __future__ import annotations

from datetime import timedelta

import psycopg
import pytest
from support.data import ANCHOR
from support.env import SHARED_SCHEMAS, SUPPORTED_DUMPS
from support.purge import run_all

from devtools import fixtures, generator
from dify_maintenance.core.db import url_connector
from dify_maintenance.core.errors import InvalidPolicy, VerificationFailed
from dify_maintenance.core.policy import resolve
from dify_maintenance.files import orphans
from dify_maintenance.retention import steps as retention
from dify_maintenance.retention import verify
from dify_maintenance.storage.stores import StoreConfig

WORKFLOW_CUTOFF = ANCHOR - timedelta(days=30)
MESSAGE_CUTOFF = ANCHOR - timedelta(days=90)


def q(url: str, sql: str, *params):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()[0]


def share_runs(url: str, share: float = 0.05) -> list:
    """Let messages newer than the cutoff name the workflow run of an older chatflow message (no
    foreign key stops two messages from naming one run); returns the shared runs."""
    with psycopg.connect(url, autocommit=True) as conn:
        old = conn.execute(
            "SELECT m.workflow_run_id FROM messages m JOIN workflow_runs r ON r.id = m.workflow_run_id "
            "WHERE m.created_at < %s AND r.created_at < %s AND r.status = 'succeeded' ORDER BY m.id",
            (MESSAGE_CUTOFF, WORKFLOW_CUTOFF),
        ).fetchall()
        recent = conn.execute("SELECT id FROM messages WHERE created_at >= %s ORDER BY id", (MESSAGE_CUTOFF,)).fetchall()
        pairs = list(zip(old, recent, strict=False))[: max(3, int(len(old) * share))]
        for (run,), (message,) in pairs:
            conn.execute("UPDATE messages SET workflow_run_id = %s WHERE id = %s", (run, message))
    return [run for (run,), _ in pairs]


@pytest.mark.skipif(not SUPPORTED_DUMPS, reason=f"real schema dumps not in {SHARED_SCHEMAS}")
@pytest.mark.parametrize("dump", SUPPORTED_DUMPS, ids=[d.stem for d in SUPPORTED_DUMPS])
def test_a_run_two_messages_name_stays_while_the_newer_message_does(dump, databases, tmp_path):
    url = databases.fresh(empty=True)
    fixtures.load_dump(url, dump)
    generator.generate(url_connector(url), anchor=ANCHOR, scale=generator.Scale(runs=300, tenants=2))
    shared = share_runs(url)
    assert shared
    _, results, verified = run_all(url, StoreConfig("fs", {"root": str(tmp_path / "a")}), "shared")
    assert verified["failed"] == 0
    assert sum(r["tables"].get("messages", {}).get("deleted", 0) for r in results) > 0
    # every message left can load its run, the shared ones included
    dangling = q(
        url,
        "SELECT count(*) FROM messages m WHERE m.workflow_run_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM workflow_runs r WHERE r.id = m.workflow_run_id)",
    )
    assert dangling == 0
    assert q(url, "SELECT count(*) FROM workflow_runs WHERE id = ANY(%s)", shared) == len(shared)
    assert max(r["statements_per_batch"] for r in results) <= 6


def test_the_default_run_builds_the_index_dify_lacks_and_purges_workflow_logs(databases, run_dag, tmp_path, monkeypatch):
    """Dify indexes messages.workflow_run_id only behind conversation_id; on any real deployment
    messages is far above unindexed_lookup_max_mb (0 here stands for that). The default run builds
    the index (ours by name, recorded, kept) and purges every family."""
    from airflow.utils.state import DagRunState

    dump = SHARED_SCHEMAS / "dify-1.14.1.sql"
    if not dump.is_file():
        pytest.skip(f"real schema dumps not in {SHARED_SCHEMAS}")
    url = databases.fresh(empty=True)
    fixtures.load_dump(url, dump)
    generator.generate(url_connector(url), anchor=ANCHOR, scale=generator.Scale(runs=300, tenants=2))
    monkeypatch.setenv("AIRFLOW_VAR_DIFY_MAINTENANCE_POLICY", '{"unindexed_lookup_max_mb": 0, "first_run_dry_run": false}')
    dr, xcoms, states = run_dag("dify_retention", url, archive_root=tmp_path / "arch")
    assert dr.state == DagRunState.SUCCESS, states
    report = xcoms["report"]
    assert report["outcome"] == "success"
    with psycopg.connect(url) as conn:
        history = conn.execute("SELECT report FROM dify_maintenance.history ORDER BY id DESC LIMIT 1").fetchone()[0]
        built = {r[0] for r in conn.execute("SELECT index_name FROM dify_maintenance.built_indexes")}
        valid = conn.execute(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass('public.dm_idx_messages_workflow_run_id')"
        ).fetchone()
    assert "dm_idx_messages_workflow_run_id" in built and valid == (True,)
    assert history["tables"]["workflow_runs"]["deleted"] > 0
    assert history["tables"]["workflow_node_executions"]["deleted"] > 0
    assert history["tables"]["messages"]["deleted"] > 0


def test_a_run_limited_to_a_tenant_leaves_another_tenants_orphans_and_counts_them(databases, tmp_path):
    url = databases.fresh("1.14")
    with psycopg.connect(url, autocommit=True) as conn:
        a, b = [r[0] for r in conn.execute("SELECT id FROM tenants ORDER BY id LIMIT 2")]
        # an earlier partial cleanup: old runs gone, their node executions and app logs left behind
        for tenant in (a, b):
            conn.execute(
                "DELETE FROM workflow_runs WHERE id IN (SELECT id FROM workflow_runs WHERE tenant_id = %s AND created_at < %s "
                "ORDER BY id LIMIT 20)",
                (tenant, WORKFLOW_CUTOFF),
            )
    orphans_of = (
        "SELECT count(*) FROM workflow_node_executions n WHERE n.tenant_id = %s AND n.created_at < %s AND n.workflow_run_id IS NOT NULL "
        "AND NOT EXISTS (SELECT 1 FROM workflow_runs r WHERE r.id = n.workflow_run_id)"
    )
    before_b = q(url, orphans_of, b, WORKFLOW_CUTOFF)
    assert before_b > 0 and q(url, orphans_of, a, WORKFLOW_CUTOFF) > 0
    _, results, verified = run_all(
        url, StoreConfig("fs", {"root": str(tmp_path / "a")}), "scoped", families=["workflow_logs"], tenant_ids=[str(a)]
    )
    assert verified["failed"] == 0
    assert q(url, orphans_of, a, WORKFLOW_CUTOFF) == 0
    assert q(url, orphans_of, b, WORKFLOW_CUTOFF) == before_b
    assert q(url, "SELECT count(*) FROM workflow_runs WHERE tenant_id = %s AND created_at < %s", b, WORKFLOW_CUTOFF) > 0
    counted = results[0]["tables"]["workflow_node_executions"].get("orphans_out_of_scope", 0)
    assert counted >= before_b


@pytest.mark.parametrize("archived", [True, False])
def test_verify_puts_back_a_run_that_a_message_left_names_or_names_it(archived, databases, tmp_path):
    """A message left that names a run this run deleted (whatever wrote it there): verify puts
    the run back from the run's archive, or fails naming the message."""
    url = databases.fresh("1.14")
    connector = url_connector(url)
    store = StoreConfig("fs", {"root": str(tmp_path / "a")}) if archived else None
    pol = resolve(None, {"families": ["workflow_logs"], "archive": archived})
    ctx = retention.preflight(connector, pol, dag_id="dify_retention", run_id="repair", logical_date=ANCHOR)
    results = [retention.run_purge(connector, ctx, "workflow_logs", pol, store)]
    with psycopg.connect(url, autocommit=True) as conn:
        run = conn.execute(
            "SELECT key FROM dify_maintenance.deleted_keys WHERE run_key = %s AND table_name = 'workflow_runs' LIMIT 1",
            (ctx["run_key"],),
        ).fetchone()[0]
        message = conn.execute("SELECT id FROM messages WHERE created_at >= %s LIMIT 1", (MESSAGE_CUTOFF,)).fetchone()[0]
        conn.execute("UPDATE messages SET workflow_run_id = %s WHERE id = %s", (run, message))
    if archived:
        checked = verify.verify(connector, ctx, pol, results, store)
        [check] = [c for c in checked["checks"] if c["check"] == "no row left names a row this run deleted"]
        assert check["ok"] and check["restored"] == {"workflow_runs": 1}
        assert q(url, "SELECT count(*) FROM workflow_runs WHERE id = %s", run) == 1
    else:
        with pytest.raises(VerificationFailed, match=f"messages {message} -> workflow_runs {run}"):
            verify.verify(connector, ctx, pol, results, store)


def test_a_cutoff_after_the_databases_now_is_refused_before_anything_changes(databases, tmp_path):
    url = databases.fresh("1.14")
    connector = url_connector(url)
    pol = resolve(None, {"archive": False})
    ahead = ANCHOR + timedelta(days=45)  # workflow logs' cutoff 15 days ahead of the database's clock
    with pytest.raises(InvalidPolicy, match="later than the database's clock") as refused:
        retention.preflight(connector, pol, dag_id="dify_retention", run_id="ahead", logical_date=ahead)
    assert "workflow_logs" in str(refused.value) and "messages" not in str(refused.value)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM dify_maintenance.runs").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM dify_maintenance.claim").fetchone()[0] == 0
    # the orphaned-files DAG's grace period the same way
    req = orphans.request_from({"dry_run": False})
    store = StoreConfig("fs", {"root": str(tmp_path / "storage")})
    with pytest.raises(InvalidPolicy, match="later than the database's clock"):
        orphans.preflight(connector, store, req, dag_id="x", run_id="ahead", archive_store=store, now=ahead)


def _new_turn_in_an_old_conversation(url: str) -> tuple:
    """The conversation with the most messages older than the cutoff gets a new turn today."""
    with psycopg.connect(url, autocommit=True) as conn:
        conversation, old = conn.execute(
            "SELECT conversation_id, count(*) FROM messages WHERE created_at < %s GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1",
            (MESSAGE_CUTOFF,),
        ).fetchone()
        columns = [r[0] for r in conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'messages'")]
        values = ", ".join(
            "gen_random_uuid()" if c == "id" else "%(now)s" if c in ("created_at", "updated_at") else c for c in columns
        )
        conn.execute(
            f"INSERT INTO messages ({', '.join(columns)}) SELECT {values} FROM messages WHERE conversation_id = %(c)s LIMIT 1",  # noqa: S608
            {"c": conversation, "now": ANCHOR},
        )
    return conversation, old


def test_whole_conversation_scope_keeps_every_message_of_a_conversation_still_in_use(databases):
    older = "SELECT count(*) FROM messages WHERE conversation_id = %s AND created_at < %s"
    whole, per_message = databases.fresh("1.14"), databases.fresh("1.14")
    conversation, old = _new_turn_in_an_old_conversation(whole)
    assert _new_turn_in_an_old_conversation(per_message) == (conversation, old)
    _, results, _ = run_all(whole, None, "whole", families=["messages"], archive=False, messages_scope="conversation")
    assert q(whole, older, conversation, MESSAGE_CUTOFF) == old
    kept = results[0]["tables"]["messages"]["kept"]
    assert any("messages_scope: conversation" in reason for reason in kept), kept
    run_all(per_message, None, "per-message", families=["messages"], archive=False)  # the default: each by its own age
    assert q(per_message, older, conversation, MESSAGE_CUTOFF) < old
