"""The synthetic data generator: deterministic, and every shape the purge must handle is there."""

from __future__ import annotations

from datetime import timedelta

import psycopg
from support.data import ANCHOR, SMALL

from devtools import fixtures, generator
from dify_maintenance.core.db import url_connector


def fingerprint(url):
    with psycopg.connect(url) as conn:
        return {
            t: conn.execute(f"select count(*), md5(string_agg(md5(x::text), '' order by md5(x::text))) from {t} x").fetchone()
            for t in ("workflow_runs", "workflow_node_executions", "messages", "conversations", "end_users", "message_feedbacks")
        }


def test_same_seed_same_data(databases):
    a = databases.fresh(empty=True)
    b = databases.fresh(empty=True)
    for url in (a, b):
        fixtures.load_sql(url, fixtures.fixture_schema("1.14"))
        generator.generate(url_connector(url), seed="s1", anchor=ANCHOR, scale=SMALL)
    assert fingerprint(a) == fingerprint(b)


def test_shapes_present(databases):
    url = databases.fresh("1.14")
    with psycopg.connect(url) as conn:
        q = lambda sql, *p: conn.execute(sql, p).fetchone()[0]  # noqa: E731
        old = ANCHOR - timedelta(days=80)
        assert q("select count(*) from workflow_runs where status = 'running' and created_at < %s", old) > 0
        assert q("select count(*) from workflow_runs where status = 'paused' and created_at < %s", old) > 0
        assert (
            q(
                "select min(c) from (select count(*) c from workflow_node_executions n join workflow_runs r on r.id = n.workflow_run_id group by n.workflow_run_id) x"
            )
            >= 5
        )
        assert (
            q(
                "select max(c) from (select count(*) c from workflow_node_executions n join workflow_runs r on r.id = n.workflow_run_id group by n.workflow_run_id) x"
            )
            <= 30
        )
        assert q("select count(*) from workflow_node_executions where workflow_run_id is null") > 0
        assert q("select count(*) from workflow_node_execution_offload o join upload_files f on f.id = o.file_id") > 0
        assert q("select count(*) from messages where workflow_run_id is not null") > 0
        assert q("select count(*) from conversations where updated_at - created_at > interval '14 days'") > 0
        assert q("select count(distinct mode) from apps") == 5
        for table in (
            "message_feedbacks",
            "message_files",
            "message_chains",
            "message_agent_thoughts",
            "dataset_retriever_resources",
            "app_annotation_hit_histories",
            "saved_messages",
            "message_annotations",
            "pinned_conversations",
            "workflow_conversation_variables",
            "workflow_pauses",
            "workflow_trigger_logs",
            "workflow_app_logs",
        ):
            assert q(f"select count(*) from {table}") > 0, table
        # end users created long ago that are still active
        assert (
            q(
                "select count(*) from end_users e where e.created_at < %s and exists "
                "(select 1 from conversations c where c.from_end_user_id = e.id and c.created_at > %s)",
                ANCHOR - timedelta(days=200),
                ANCHOR - timedelta(days=21),
            )
            > 0
        )
        # pre-existing orphans
        assert (
            q(
                "select count(*) from workflow_node_executions n where n.workflow_run_id is not null "
                "and not exists (select 1 from workflow_runs r where r.id = n.workflow_run_id)"
            )
            > 0
        )
