"""cleanup-pg deletes a workflow-log row only while Dify can read its document, as it is, from the
cluster at that moment. Every case below is something that happened between a passing
validation and the cleanup (or a cluster Dify cannot read); each test cleans up and then audits
every deleted row against the index Dify reads it from (support.logstore.audit_deleted).

The engine is driven as the DAG composes it (cleanup preflight, then the purge with the proof);
the DAG itself runs in test_log_migration.py and test_log_cycle.py."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from support.data import ANCHOR
from support.logstore import ElasticsearchFace, audit_deleted, cluster_for, expected_documents

from devtools import fixtures, generator
from dify_maintenance.core import state
from dify_maintenance.core.db import connection, url_connector
from dify_maintenance.core.errors import InvalidPolicy
from dify_maintenance.logstore import cleanup, indices, migrate, validate
from dify_maintenance.logstore.cluster import ClusterUnavailable, identify
from dify_maintenance.logstore.proof import NOT_PROVED, DocumentProof
from dify_maintenance.retention import steps as retention
from dify_maintenance.storage.stores import StoreConfig

SCALE = generator.Scale(runs=160, tenants=2)
BEFORE = (ANCHOR - timedelta(days=20)).date()


class Scene:
    """A generated Dify 1.14 database with offloaded payloads in a local storage, a cluster, and
    the engine's calls as the three DAGs make them."""

    def __init__(self, databases, tmp_path: Path, cluster_url: str) -> None:
        self.url = databases.fresh(empty=True)
        fixtures.load_sql(self.url, fixtures.fixture_schema("1.14"))
        generator.generate(url_connector(self.url), anchor=ANCHOR, scale=SCALE)
        self.storage = StoreConfig("fs", {"root": str(tmp_path / "dify-storage")})
        generator.write_offload_payloads(url_connector(self.url), self.storage)
        self.config = cluster_for(cluster_url)
        self.client = self.config.client()
        self.database = psycopg.conninfo.conninfo_to_dict(self.url)["dbname"]
        op = self.storage.operator()
        self.read = lambda key: bytes(op.read(key))
        self.runs = 0

    @property
    def connector(self):
        return url_connector(self.url)

    def migrate(self, validate_only: bool = False, **form) -> dict:
        """Migrate every settled row (unless ``validate_only``), then validate; returns the validation."""
        info = identify(self.client, self.config)
        req = migrate.request_from({"dry_run": False, **form}, self.config, migrate.database_now(self.connector))
        if not validate_only:
            planned = migrate.plan(self.connector, req, self.client, self.config, info)
            for part in planned["partitions"]:
                migrate.migrate_partition(self.connector, self.client, self.config, req, part, self.read, info=info)
        return validate.validate(self.connector, self.client, self.config, req, self.read, run_key=f"t/{uuid.uuid4()}", info=info)

    def cleanup(self, before=BEFORE, tenants: tuple[str, ...] = (), proof_config=None) -> dict:
        """cleanup-pg, archive off (typed twice), as its DAG runs it: preflight, then the purge
        with the proof; the claim released after."""
        self.runs += 1
        req = cleanup.request_from(
            {
                "dry_run": False,
                "confirm_database": self.database,
                "before_date": before.isoformat(),
                "tenant_ids": list(tenants),
                "archive": False,
                "confirm_archive_off": self.database,
            }
        )
        policy = cleanup.policy_for(req)
        info = identify(self.client, self.config)
        run_id = f"manual__{self.runs}"
        ctx = cleanup.preflight(
            self.connector, req, policy, info, self.config, {}, dag_id="dify_log_cleanup_pg", run_id=run_id, logical_date=ANCHOR
        )
        config = proof_config or self.config
        proof = DocumentProof(config.client(), config, "dify", "per_tenant", self.read)
        try:
            return retention.run_purge(self.connector, ctx, "workflow_logs", policy, None, None, proof)
        finally:
            with connection(self.connector) as conn:
                state.release(conn, ctx["run_key"])

    def count(self, sql: str, *params) -> int:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql, params).fetchone()[0]

    def execute(self, sql: str, *params) -> None:
        with psycopg.connect(self.url) as conn:
            conn.execute(sql, params)

    def old_runs(self, n: int) -> list[dict]:
        """``n`` ended runs well before the cleanup's date (so the purge would take them)."""
        with psycopg.connect(self.url, row_factory=psycopg.rows.dict_row) as conn:
            return conn.execute(
                "select id::text as id, tenant_id::text as tenant_id, created_at from workflow_runs "
                "where status = 'succeeded' and created_at < %s "
                "and id not in (select workflow_run_id from messages where workflow_run_id is not null) "
                "order by created_at limit %s",
                (ANCHOR - timedelta(days=40), n),
            ).fetchall()

    def remaining(self, ids: list[str]) -> int:
        return self.count("select count(*) from workflow_runs where id::text = any(%s)", ids)


def _kept_unproved(result: dict) -> int:
    return int(result["tables"]["workflow_runs"]["kept"].get(NOT_PROVED, 0))


@pytest.fixture
def scene(databases, tmp_path, es):
    return Scene(databases, tmp_path, es.url)


def test_a_run_finished_after_its_migration_stays_until_a_rerun_rewrites_its_document(scene):
    runs = scene.old_runs(6)
    ids = [r["id"] for r in runs]
    # paused when migrated ...
    scene.execute("update workflow_runs set status = 'paused', outputs = null where id::text = any(%s)", ids)
    assert scene.migrate()["passed"]
    # ... finished afterwards: the cluster still says paused
    scene.execute(
        "update workflow_runs set status = 'succeeded', outputs = %s where id::text = any(%s)", '{"answer": "done"}', ids
    )
    before = expected_documents(scene.url, scene.storage)
    result = scene.cleanup()
    deleted, wrong = audit_deleted(before, scene.url, scene.client)
    assert deleted > 0 and wrong == []
    assert scene.remaining(ids) == len(ids) and _kept_unproved(result) == len(ids)
    assert any(ids[0] in why or "differs" in why for why in result["proof"]["not_proved"])

    # the rerun rewrites what changed since its last pass; then they go, as they are now
    again = scene.migrate()
    assert again["passed"]
    before = expected_documents(scene.url, scene.storage)
    result = scene.cleanup()
    deleted, wrong = audit_deleted(before, scene.url, scene.client)
    assert scene.remaining(ids) == 0 and wrong == [] and _kept_unproved(result) == 0


def test_rows_committed_after_the_validation_with_an_old_date_stay_until_migrated(scene):
    assert scene.migrate()["passed"]
    template = scene.old_runs(1)[0]
    late = [str(uuid.uuid4()) for _ in range(4)]
    with psycopg.connect(scene.url) as conn:
        for run_id in late:
            conn.execute("create temp table late_run as select * from workflow_runs where id = %s::uuid", (template["id"],))
            conn.execute("update late_run set id = %s::uuid", (run_id,))
            conn.execute("insert into workflow_runs select * from late_run")
            conn.execute("drop table late_run")
    before = expected_documents(scene.url, scene.storage)
    result = scene.cleanup()
    deleted, wrong = audit_deleted(before, scene.url, scene.client)
    assert deleted > 0 and wrong == []
    assert scene.remaining(late) == len(late) and _kept_unproved(result) == len(late)

    # the next migration finds them behind its watermark (an id-level pass), and they go
    assert scene.migrate()["passed"]
    scene.cleanup()
    assert scene.remaining(late) == 0


def test_an_index_deleted_after_the_validation_keeps_its_runs(scene):
    assert scene.migrate()["passed"]
    victim = scene.old_runs(1)[0]
    index = f"dify-workflow-runs-{victim['tenant_id']}-{victim['created_at']:%Y.%m}"
    scene.client.indices.delete(index=index)
    with psycopg.connect(scene.url) as conn:
        lost = [
            r[0]
            for r in conn.execute(
                "select id::text from workflow_runs where tenant_id = %s::uuid and to_char(created_at, 'YYYY.MM') = %s "
                "and created_at < %s",
                (victim["tenant_id"], f"{victim['created_at']:%Y.%m}", BEFORE),
            ).fetchall()
        ]
    before = expected_documents(scene.url, scene.storage)
    result = scene.cleanup()
    deleted, wrong = audit_deleted(before, scene.url, scene.client)
    assert deleted > 0 and wrong == []
    assert scene.remaining([victim["id"]]) == 1
    assert _kept_unproved(result) >= 1 and scene.remaining(lost) >= _kept_unproved(result)


def test_index_retention_between_validation_and_cleanup_drops_nothing_unread(scene):
    assert scene.migrate()["passed"]
    dropped = indices.drop_expired(scene.client, scene.config, "dify", ANCHOR, 30, dry_run=False)
    assert dropped["dropped"]
    before = expected_documents(scene.url, scene.storage)
    result = scene.cleanup()
    deleted, wrong = audit_deleted(before, scene.url, scene.client)
    assert wrong == []
    assert _kept_unproved(result) > 0  # the runs of the dropped months stay in PostgreSQL


def test_the_cluster_gone_after_the_validation_deletes_nothing(scene, es):
    assert scene.migrate()["passed"]
    counts = scene.count("select count(*) from workflow_runs"), scene.count("select count(*) from workflow_node_executions")
    scene.config = cluster_for(es.url, max_retries=1)  # one back-off (1 s) before giving up, not 1+2+4 s
    scene.client = scene.config.client()
    es.down = True
    with pytest.raises(ClusterUnavailable):
        scene.cleanup()  # preflight cannot identify the cluster
    es.down = False
    # gone between the preflight and the first batch: the batch rolls back, the task retries later
    face = ElasticsearchFace(es.url)
    face.down = True
    with pytest.raises(ClusterUnavailable):
        scene.cleanup(proof_config=cluster_for(face.url, max_retries=0))
    face.close()
    assert (
        scene.count("select count(*) from workflow_runs"),
        scene.count("select count(*) from workflow_node_executions"),
    ) == counts


def test_an_export_is_never_grounds_to_delete(databases, tmp_path, cluster_server, es):
    scene = Scene(databases, tmp_path, es.url)
    counts = scene.count("select count(*) from workflow_runs")
    # another prefix: validated, but not where Dify reads
    assert scene.migrate(index_prefix="export")["passed"]
    with pytest.raises(cleanup.NotValidated, match="no validation of this cluster"):
        scene.cleanup()
    # one index per month for every tenant: Dify reads only per-tenant names
    assert scene.migrate(index_layout="monthly")["passed"]
    with pytest.raises(cleanup.NotValidated):
        scene.cleanup()
    # OpenSearch itself (no Elasticsearch face): Dify's client cannot read it at all
    with cluster_server.clone() as clone:
        scene.config = cluster_for(clone.url)
        scene.client = scene.config.client()
        assert scene.migrate()["passed"]
        with pytest.raises(cleanup.NotReadableByDify, match="Dify reads only Elasticsearch"):
            scene.cleanup()
    assert scene.count("select count(*) from workflow_runs") == counts


def test_dates_come_from_the_database_clock(scene):
    db_now = migrate.database_now(scene.connector)
    req = migrate.request_from({"dry_run": False}, scene.config, db_now)
    assert req.window_end == db_now - migrate.SETTLE
    # an end_date ahead does not reach past the settle window either
    ahead = migrate.request_from(
        {"dry_run": False, "end_date": (db_now + timedelta(days=3)).date().isoformat()}, scene.config, db_now
    )
    assert ahead.window_end == req.window_end
    assert scene.migrate()["passed"]
    with pytest.raises(InvalidPolicy, match="later than the database's now"):
        scene.cleanup(before=(db_now + timedelta(days=1)).date())


def test_a_newer_failed_validation_blocks_an_older_passing_one(scene):
    assert scene.migrate()["passed"]
    victim = scene.old_runs(1)[0]
    index = f"dify-workflow-runs-{victim['tenant_id']}-{victim['created_at']:%Y.%m}"
    source = scene.client.get(index=index, id=victim["id"])["_source"]
    scene.client.index(index=index, id=victim["id"], body={**source, "status": "altered"}, refresh=True)
    # validation alone: a migration's pass would rewrite the document of any row whose xmin is
    # not older than the oldest transaction running at the last pass (another session's open
    # transaction makes that every row), which is what a rerun is for, not what this test is about
    failed = scene.migrate(validate_only=True)
    assert not failed["passed"]
    counts = scene.count("select count(*) from workflow_runs")
    with pytest.raises(cleanup.NotValidated, match="FAILED for workflow_runs"):
        scene.cleanup()
    assert scene.count("select count(*) from workflow_runs") == counts


def test_an_offload_without_its_upload_row_is_a_reject_and_fails_validation(scene):
    with psycopg.connect(scene.url) as conn:
        node, file_id = conn.execute(
            "select o.node_execution_id::text, o.file_id::text from workflow_node_execution_offload o "
            "join workflow_node_executions n on n.id = o.node_execution_id where n.created_at < %s limit 1",
            (ANCHOR - timedelta(days=40),),
        ).fetchone()
        conn.execute("delete from upload_files where id = %s::uuid", (file_id,))
    checked = scene.migrate()
    nodes = next(d for d in checked["data_types"] if d["data_type"] == "node_executions")
    assert not checked["passed"] and nodes["rejected_count"] == 1
    assert nodes["rejected"][0]["id"] == node and "upload_files row is missing" in nodes["rejected"][0]["reason"]
    with psycopg.connect(scene.url) as conn:
        reason = conn.execute("select reason from dify_maintenance.log_migration_rejects where doc_id = %s", (node,)).fetchone()
    assert reason and "upload_files row is missing" in reason[0]
    with pytest.raises(cleanup.NotValidated, match="FAILED for node_executions"):
        scene.cleanup()


def test_a_tenant_scoped_cleanup_leaves_other_tenants_and_orphans_alone(scene):
    assert scene.migrate()["passed"]
    with psycopg.connect(scene.url) as conn:
        tenant_a, tenant_b = (r[0] for r in conn.execute("select id::text from tenants order by id limit 2").fetchall())
    orphans_b = (
        "select count(*) from workflow_node_executions n where n.tenant_id = %s::uuid and n.workflow_run_id is not null "
        "and not exists (select 1 from workflow_runs r where r.id = n.workflow_run_id)"
    )
    rows_b = "select count(*) from workflow_node_executions where tenant_id = %s::uuid"
    before_b = scene.count(orphans_b, tenant_b), scene.count(rows_b, tenant_b)
    before = expected_documents(scene.url, scene.storage)
    result = scene.cleanup(tenants=(tenant_a,))
    deleted, wrong = audit_deleted(before, scene.url, scene.client)
    assert deleted > 0 and wrong == []
    assert (scene.count(orphans_b, tenant_b), scene.count(rows_b, tenant_b)) == before_b
    assert result["orphan_sweeps_skipped"]
