"""What a batch reads grows with the batch, never with the table: no statement of a batch hashes
or merges a Dify table, or reads one through a hashed subplan.

A batch is two statements that read Dify's tables: the batch statement (window, keep rules, every
descendant located once, the deletes) and the re-check before the commit. Each runs as the purge
runs it (same session settings, one transaction, rolled back) under ``EXPLAIN (ANALYZE)``, at two
data sizes. A hash join, a merge join or a hashed subplan fed by a Dify table reads that whole
table in every batch; the purge holds batches to index nested loops (hashing only the batch's own
rows, in its CTEs). A root whose lookups lack an index is the exception by design (hashed while
the table is under ``unindexed_lookup_max_mb``, else built or deferred): the test names it.
"""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg
import pytest
from psycopg.rows import dict_row
from support.data import ANCHOR

from devtools import generator
from dify_maintenance.core import catalog
from dify_maintenance.core.policy import resolve
from dify_maintenance.core.schema import snapshot
from dify_maintenance.core.sqltemplates import render
from dify_maintenance.retention import chain as chains
from dify_maintenance.retention.plan import heap_extent, plan_root

BATCH = 100
ROOTS = ("workflow_runs", "messages", "conversations")
# Roots with a lookup Dify has no index for on the 1.14 fixture (messages.workflow_run_id, which
# the purge builds by default on a big table): hashed, on purpose, while small.
EXPECTED_UNINDEXED = {"workflow_runs", "messages"}
SCANS = ("Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Tid Scan", "Tid Range Scan")


def _nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


def _reads_dify_table(node: dict) -> bool:
    return any(n["Node Type"] in SCANS and not n.get("Relation Name", "").startswith(("_dm_", "dm_")) for n in _nodes(node))


def _explain(conn: psycopg.Connection, query, params: dict) -> tuple[int, list[str]]:
    """Rows the statement read from Dify's tables, and every node of its plan that hashes or merges
    a Dify table (the batch's own rows in its CTEs may be hashed)."""
    plan = conn.execute(psycopg.sql.SQL("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ") + query, params).fetchone()["QUERY PLAN"]
    top = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    whole = []
    for node in _nodes(top):
        hashing = node["Node Type"] in ("Hash", "Merge Join") or (
            node.get("Subplan Name", "").startswith("SubPlan") and "hashed" in node.get("Subplan Name", "")
        )
        if node["Node Type"] == "Hash Join":
            hashing = True
        if hashing and _reads_dify_table(node):
            whole.append(f"{node['Node Type']} {node.get('Relation Name', '')}".strip())
    read = sum(
        (n.get("Actual Rows", 0) + n.get("Rows Removed by Filter", 0)) * n.get("Actual Loops", 1)
        for n in _nodes(top)
        if n["Node Type"] in SCANS and not n.get("Relation Name", "").startswith(("_dm_", "dm_"))
    )
    return int(read), whole


def batch_reads(url: str, root_name: str) -> dict[str, tuple[int, list[str], bool]]:
    """Rows each statement of one batch of ``BATCH`` roots reads, and what it hashes."""
    fam = next(f for f in catalog.FAMILIES if any(r.name == root_name for r in f.roots))
    root = next(r for r in fam.roots if r.name == root_name)
    policy = resolve(None, {"archive": False})
    out: dict[str, tuple[int, list[str], bool]] = {}
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute("ANALYZE")
        snap = snapshot(conn)
        plan = plan_root(root, snap, policy)
        chain = chains.build(plan, snap)
        params = {
            **plan.params,
            **chain.ledger_params,
            "cutoff": ANCHOR - timedelta(days=policy.days_for(fam.name)),
            "limit": BATCH,
            "run_key": "shapes",
            "excluded": [],
        }
        if plan.walk == "ctid":
            params["from_tid"], params["to_tid"] = "(0,0)", f"({heap_extent(conn, root.table).blocks_for(BATCH)},0)"
        hashing = "on" if plan.unindexed else "off"
        batch = render("purge/batch.sql", **chain.batch_context("delete", False, False))
        with conn.transaction(force_rollback=True):
            conn.execute(
                "SELECT set_config('enable_hashjoin', %s, true), set_config('enable_mergejoin', %s, true)", [hashing] * 2
            )
            with conn.transaction(force_rollback=True):
                summary = conn.execute(batch, params).fetchone()["s"]
            outcome = chains.read_summary(chain, summary)
            out["batch"] = (*_explain(conn, batch, params), plan.unindexed)
            recheck = render("purge/recheck.sql", **chain.recheck_context())
            out["re-check"] = (*_explain(conn, recheck, {**plan.params, **chains.recheck_params(chain, outcome)}), plan.unindexed)
    return out


@pytest.fixture(scope="module")
def two_sizes(databases):
    small = databases.fresh("1.14")  # the session's template: 600 runs
    big = databases.fresh("1.14", scale=generator.Scale(runs=2400, tenants=2))
    return small, big


@pytest.mark.parametrize("root", ROOTS)
def test_batch_reads_do_not_grow_with_the_table(root, two_sizes):
    small, big = (batch_reads(url, root) for url in two_sizes)
    assert small.keys() == big.keys() == {"batch", "re-check"}
    unindexed = any(scans for _, _, scans in small.values())
    assert unindexed == (root in EXPECTED_UNINDEXED)
    if not unindexed:
        whole = {label: reads for label, (_, reads, _) in big.items() if reads}
        assert whole == {}, f"statements of a {root} batch that read a whole table: {whole}"
    assert big["batch"][0] > 0  # the batch did read and delete rows


def test_with_the_index_the_purge_builds_no_batch_hashes_a_table(databases):
    """Where Dify lacks the index a lookup needs, the purge builds it by default: then every root's
    batch is held to index plans too."""
    url = databases.fresh("1.14", scale=generator.Scale(runs=2400, tenants=2))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE INDEX dm_shapes_test ON messages (workflow_run_id) WHERE workflow_run_id IS NOT NULL")
    for root in ROOTS:
        reads = batch_reads(url, root)
        assert not any(scans for _, _, scans in reads.values()), root
        assert {label: r for label, (_, r, _) in reads.items() if r} == {}, root
