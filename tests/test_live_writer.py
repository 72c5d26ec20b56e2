"""The purge beside a live Dify that keeps writing under old parents.

A real Dify writes feedback on old messages, node executions for old runs, messages into old
conversations, and moves ``conversations.updated_at``, while the purge runs. Each rule is proven
by a write landing at one exact moment of a batch: PostgreSQL triggers on the purged tables call
back into the database through ``dblink``, a second session that commits on its own, so the
write is as concurrent as Dify's and lands deterministically (once, guarded by a sequence, which
a rollback does not reset):

* while the batch's statement deletes the children, before it deletes their root (a row trigger):
  the root DELETE's re-check on the live row keeps the root, and the batch is redone without it;
* after the batch's statement, before the commit: the batch's re-check (a new snapshot) redoes it;
* inside the commit (a deferred trigger): the check right after the commit puts the parent back
  from the batch's archive (or, archive off, names the row, and verify fails on it).

A last test runs a writer thread against random and next-in-line parents for a whole run.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from support.data import ANCHOR
from support.purge import run_all

from dify_maintenance.core.errors import VerificationFailed
from dify_maintenance.storage.stores import StoreConfig

WORKFLOW_CUTOFF = ANCHOR - timedelta(days=30)
MESSAGE_CUTOFF = ANCHOR - timedelta(days=90)

# A "live Dify" inside the database: clone_child writes, in the session dblink opens, a copy of
# some row of a table re-parented under a given parent and dated now, and notes what it wrote.
HARNESS = """
CREATE SCHEMA dm_test;
CREATE TABLE dm_test.conf (conninfo text NOT NULL, clock_offset interval NOT NULL);
CREATE TABLE dm_test.written (at text, tbl text, id uuid, parent uuid);
CREATE SEQUENCE dm_test.fired;

CREATE FUNCTION dm_test.clone_child(at text, tbl text, parent_col text, parent uuid) RETURNS void
LANGUAGE plpgsql AS $f$
DECLARE exprs text; cols text; new_id uuid;
BEGIN
  SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position),
         string_agg(CASE WHEN column_name = 'id' THEN 'gen_random_uuid()'
                         WHEN column_name IN ('created_at', 'updated_at') THEN '(now() AT TIME ZONE ''UTC'' + (SELECT clock_offset FROM dm_test.conf))'
                         WHEN column_name = parent_col THEN quote_literal(parent) || '::uuid'
                         ELSE quote_ident(column_name) END, ', ' ORDER BY ordinal_position)
    INTO cols, exprs
    FROM information_schema.columns WHERE table_schema = 'public' AND table_name = tbl;
  EXECUTE format('INSERT INTO public.%I (%s) SELECT %s FROM public.%I LIMIT 1 RETURNING id', tbl, cols, exprs, tbl)
    INTO new_id;
  INSERT INTO dm_test.written VALUES (at, tbl, new_id, parent);
END $f$;

CREATE FUNCTION dm_test.touch(at text, conversation uuid) RETURNS void LANGUAGE plpgsql AS $f$
BEGIN
  UPDATE public.conversations SET updated_at = now() AT TIME ZONE 'UTC' + (SELECT clock_offset FROM dm_test.conf)
  WHERE id = conversation;
  INSERT INTO dm_test.written VALUES (at, 'conversations', conversation, conversation);
END $f$;

-- Statement trigger: once per test, write a child under a parent this statement's rows name.
-- TG_ARGV: moment label, column of the deleted rows naming the parent, table to write, its parent column.
CREATE FUNCTION dm_test.write_under_deleted() RETURNS trigger LANGUAGE plpgsql AS $f$
DECLARE parent uuid;
BEGIN
  EXECUTE format('SELECT %I FROM gone WHERE %I IS NOT NULL LIMIT 1', TG_ARGV[1], TG_ARGV[1]) INTO parent;
  IF parent IS NOT NULL AND nextval('dm_test.fired') = 1 THEN
    IF TG_ARGV[2] = 'conversations' THEN
      PERFORM * FROM dm_test.dblink((SELECT conninfo FROM dm_test.conf),
        format('SELECT dm_test.touch(%L, %L)::text', TG_ARGV[0], parent)) AS t(r text);
    ELSE
      PERFORM * FROM dm_test.dblink((SELECT conninfo FROM dm_test.conf),
        format('SELECT dm_test.clone_child(%L, %L, %L, %L)::text', TG_ARGV[0], TG_ARGV[2], TG_ARGV[3], parent)) AS t(r text);
    END IF;
  END IF;
  RETURN NULL;
END $f$;

-- Row trigger while the batch's statement runs: before a child row goes, touch (once) the row
-- above it. TG_ARGV: moment label, the column of the deleted row naming the parent.
CREATE FUNCTION dm_test.touch_before_delete() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF nextval('dm_test.fired') = 1 THEN
    PERFORM * FROM dm_test.dblink((SELECT conninfo FROM dm_test.conf),
      format('SELECT dm_test.touch(%L, %L)::text', TG_ARGV[0], to_jsonb(OLD) ->> TG_ARGV[1])) AS t(r text);
  END IF;
  RETURN OLD;
END $f$;

-- Row trigger deferred to the commit: the write lands after the batch's last check.
CREATE FUNCTION dm_test.write_at_commit() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  IF nextval('dm_test.fired') = 1 THEN
    PERFORM * FROM dm_test.dblink((SELECT conninfo FROM dm_test.conf),
      format('SELECT dm_test.clone_child(%L, %L, %L, %L)::text', 'commit', 'workflow_node_executions', 'workflow_run_id', OLD.id))
      AS t(r text);
  END IF;
  RETURN NULL;
END $f$;
"""


def live_dify(url: str, trigger_sql: str | None) -> None:
    """The harness, and a trigger that writes from a second session through dblink (none: the
    test writes from its own thread)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(HARNESS)
        # the live Dify dates what it writes by the test's clock (as Dify dates rows by its own),
        # which make test-future moves a year ahead of the database's: the offset between the two
        conn.execute(
            "insert into dm_test.conf values (%s, %s::timestamp - (now() AT TIME ZONE 'UTC'))",
            [url, datetime.now(UTC).replace(tzinfo=None)],
        )
        if trigger_sql is None:
            return
        if not conn.execute("select 1 from pg_available_extensions where name = 'dblink'").fetchone():
            pytest.skip("this PostgreSQL has no dblink (contrib) to write from a second session")
        conn.execute("CREATE EXTENSION dblink SCHEMA dm_test")
        conn.execute(trigger_sql)


def written(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("select at, tbl, id, parent from dm_test.written").fetchall()


def q(url: str, sql: str, *params) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchone()[0]


def node_counts(url: str) -> dict:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("select workflow_run_id, count(*) from workflow_node_executions group by 1").fetchall())


def archive(tmp_path) -> StoreConfig:
    return StoreConfig("fs", {"root": str(tmp_path / "archive")})


def test_child_written_after_the_child_deletes_keeps_its_root_whole(databases, tmp_path):
    """The root DELETE re-checks on the live row: a new node execution keeps its run, and the
    batch is redone so the run keeps the old node executions it had too."""
    url = databases.fresh("1.14")
    live_dify(
        url,
        """CREATE TRIGGER live AFTER DELETE ON public.workflow_node_executions REFERENCING OLD TABLE AS gone
           FOR EACH STATEMENT EXECUTE FUNCTION dm_test.write_under_deleted(
             'before root delete', 'workflow_run_id', 'workflow_node_executions', 'workflow_run_id')""",
    )
    before = node_counts(url)
    _, results, verified = run_all(url, archive(tmp_path), "live-a", batch_size=50, families=["workflow_logs"])
    [(_, _, new_id, run_id)] = written(url)
    assert q(url, "select count(*) from workflow_runs where id = %s", run_id) == 1
    assert q(url, "select count(*) from workflow_node_executions where id = %s", new_id) == 1
    assert node_counts(url)[run_id] == before[run_id] + 1  # nothing of the run's own history lost
    kept = results[0]["tables"]["workflow_runs"]["kept"]
    assert kept.get("written to while its batch ran (left for the next run)") == 1
    assert verified["failed"] == 0


def test_child_written_after_the_root_delete_is_caught_before_the_commit(databases, tmp_path):
    url = databases.fresh("1.14")
    live_dify(
        url,
        """CREATE TRIGGER live AFTER DELETE ON public.workflow_runs REFERENCING OLD TABLE AS gone
           FOR EACH STATEMENT EXECUTE FUNCTION dm_test.write_under_deleted(
             'before commit', 'id', 'workflow_app_logs', 'workflow_run_id')""",
    )
    apps_before = q(url, "select count(*) from workflow_app_logs where created_at < %s", WORKFLOW_CUTOFF)
    before = node_counts(url)
    run_all(url, archive(tmp_path), "live-b", batch_size=50, families=["workflow_logs"])
    [(_, _, new_id, run_id)] = written(url)
    assert q(url, "select count(*) from workflow_runs where id = %s", run_id) == 1
    assert node_counts(url)[run_id] == before[run_id]
    assert q(url, "select count(*) from workflow_app_logs where id = %s", new_id) == 1
    assert q(url, "select count(*) from workflow_app_logs where created_at < %s", WORKFLOW_CUTOFF) < apps_before


def test_conversation_touched_mid_batch_is_kept(databases, tmp_path):
    """Dify moves ``updated_at`` when a conversation is used again: checked in the DELETE itself,
    on the live row, after the statement already deleted the conversation's variables; the batch
    is then redone without it, so the conversation keeps its variables too."""
    url = databases.fresh("1.14")
    live_dify(
        url,
        """CREATE TRIGGER live BEFORE DELETE ON public.workflow_conversation_variables
           FOR EACH ROW EXECUTE FUNCTION dm_test.touch_before_delete('touch', 'conversation_id')""",
    )
    variables = dict(
        psycopg.connect(url)
        .execute("select conversation_id, count(*) from workflow_conversation_variables group by 1")
        .fetchall()
    )
    run_all(url, archive(tmp_path), "live-d", batch_size=50, families=["messages"])
    [(_, _, conversation, _)] = written(url)
    assert q(url, "select count(*) from conversations where id = %s and updated_at >= %s", conversation, MESSAGE_CUTOFF) == 1
    assert (
        q(url, "select count(*) from workflow_conversation_variables where conversation_id = %s", conversation)
        == (variables[conversation])
    )


@pytest.mark.parametrize("archived", [True, False])
def test_write_inside_the_commit_is_repaired_from_the_archive_or_named(archived, databases, tmp_path):
    """The one window no check inside the batch can close: the check right after the commit finds
    the row and puts its parent back from the batch's archive within the batch, or (archive off)
    names it, and verify fails naming it."""
    url = databases.fresh("1.14")
    live_dify(
        url,
        """CREATE CONSTRAINT TRIGGER live AFTER DELETE ON public.workflow_runs DEFERRABLE INITIALLY DEFERRED
           FOR EACH ROW EXECUTE FUNCTION dm_test.write_at_commit()""",
    )
    if archived:
        _, results, verified = run_all(url, archive(tmp_path), "live-c", batch_size=50, families=["workflow_logs"])
        [(_, _, new_id, run_id)] = written(url)
        assert q(url, "select count(*) from workflow_runs where id = %s", run_id) == 1
        assert results[0]["repaired_after_commit"] == 1
        [check] = [c for c in verified["checks"] if c["check"].startswith("no row written during the run")]
        assert check["ok"] and check["found"] == 0
    else:
        with pytest.raises(VerificationFailed) as failed:
            run_all(url, None, "live-c", batch_size=50, families=["workflow_logs"], archive=False)
        [(_, _, new_id, run_id)] = written(url)
        assert str(failed.value).startswith(
            "verification failed: no row written during the run under a parent it deleted "
            f"(found 1: workflow_node_executions {new_id} -> workflow_runs {run_id})"
        )
        assert q(url, "select count(*) from workflow_runs where id = %s", run_id) == 0
    assert q(url, "select count(*) from workflow_node_executions where id = %s", new_id) == 1


# What a live Dify writes under an old parent: (table, parent column, parent table, the parents' query).
WRITES = (
    ("workflow_node_executions", "workflow_run_id", "workflow_runs", "status = 'succeeded' and created_at < %(wf)s"),
    ("workflow_app_logs", "workflow_run_id", "workflow_runs", "status = 'succeeded' and created_at < %(wf)s"),
    ("message_feedbacks", "message_id", "messages", "created_at < %(msg)s"),
    ("message_agent_thoughts", "message_id", "messages", "created_at < %(msg)s"),
    ("messages", "conversation_id", "conversations", "created_at < %(msg)s and updated_at < %(msg)s"),
)


def _writer(url: str, stop: threading.Event, done: list, seed: int) -> None:
    """Like Dify: read the parent, then write under it; half the time a random old parent, half the
    time the oldest one left (the purge's next batch)."""
    rng = random.Random(seed)
    cutoffs = {"wf": WORKFLOW_CUTOFF, "msg": MESSAGE_CUTOFF}
    with psycopg.connect(url, autocommit=True) as conn:
        pools = {
            parent: [r[0] for r in conn.execute(f"select id from {parent} where {cond}", cutoffs).fetchall()]  # noqa: S608
            for _, _, parent, cond in WRITES
        }
        while not stop.is_set():
            table, column, parent, cond = rng.choice(WRITES)
            if rng.random() < 0.5:
                target = rng.choice(pools[parent])
            else:
                row = conn.execute(f"select id from {parent} where {cond} order by created_at, id limit 1", cutoffs).fetchone()  # noqa: S608
                target = row[0] if row else rng.choice(pools[parent])
            if conn.execute(f"select 1 from {parent} where id = %s", [target]).fetchone():  # noqa: S608
                conn.execute("select dm_test.clone_child('writer', %s, %s, %s)", [table, column, target])
                done.append(table)
            time.sleep(0.003)


def test_purge_beside_a_live_writer_deletes_nothing_new_and_leaves_nothing_dangling(databases, tmp_path):
    url = databases.fresh("1.14")
    live_dify(url, None)
    stop, done = threading.Event(), []
    thread = threading.Thread(target=_writer, args=(url, stop, done, 7))
    thread.start()
    try:
        _, results, verified = run_all(url, archive(tmp_path), "live-e", batch_size=50)
    finally:
        stop.set()
        thread.join()
    rows = written(url)
    assert len(rows) == len(done) > 50
    assert sum(c["deleted"] for r in results for c in r["tables"].values()) > 1000
    with psycopg.connect(url) as conn:
        for table, column, parent, _ in WRITES:
            ids = [r[2] for r in rows if r[1] == table]
            # every row the writer wrote is still there, and so is the parent it names
            assert conn.execute(f"select count(*) from {table} where id = any(%s)", [ids]).fetchone()[0] == len(ids)  # noqa: S608
            assert (
                conn.execute(
                    f"select count(*) from {table} t where t.id = any(%s) "  # noqa: S608
                    f"and not exists (select 1 from {parent} p where p.id = t.{column})",
                    [ids],
                ).fetchone()[0]
                == 0
            )
    assert verified["failed"] == 0
