"""What a batch reads grows with the batch, never with the table: no per-batch statement hashes
or merges a whole table.

Each statement of a batch (the first window of the oldest expired roots) runs as the purge runs it
(same session settings, same statements, one transaction, rolled back) under ``EXPLAIN (ANALYZE)``,
at two data sizes. A hash join, a merge join or a hashed subplan reads its whole inner table in
every batch; the purge holds short batches to index nested loops and writes every per-candidate
test so it cannot be hashed. Statements whose lookup has no index are the exception by design
(scanned only while the table is under ``unindexed_lookup_max_mb``, else built or deferred); the
test names them. (Row counts at two sizes were tried too: on test-sized tables the planner rightly
reads a tiny table whole instead of probing it, so they cannot tell a bad plan from a cheap one;
bench/purge.py measures how time grows at scale.)
"""

from __future__ import annotations

import json
from datetime import timedelta

import psycopg
import pytest
from conftest import ANCHOR
from psycopg.rows import dict_row

from devtools import generator
from dify_maintenance.core import catalog
from dify_maintenance.core.policy import resolve
from dify_maintenance.core.schema import snapshot
from dify_maintenance.core.sqltemplates import render
from dify_maintenance.retention import statements
from dify_maintenance.retention.plan import heap_extent, plan_root

BATCH = 100
ROOTS = ("workflow_runs", "messages", "conversations")
# The lookups Dify has no index for on the 1.14 fixture: scanned, on purpose, while small.
EXPECTED_SCANS = {
    ("workflow_runs", "keep: shown by a remaining chatflow message"),
    ("workflow_runs", "delete workflow_runs"),
    ("workflow_runs", "re-check before commit"),
}


def _nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _nodes(child)


SCANS = ("Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan")


def _explain(conn: psycopg.Connection, query, params: dict) -> tuple[int, list[str]]:
    """Rows the statement read from Dify's tables, and every node of its plan that reads a whole
    table in every batch (a hash, a merge join, a hashed subplan)."""
    plan = conn.execute(psycopg.sql.SQL("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ") + query, params).fetchone()["QUERY PLAN"]
    top = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    whole = [
        f"{n['Node Type']} {n.get('Relation Name', '')}".strip()
        for n in _nodes(top)
        if n["Node Type"] in ("Hash", "Hash Join", "Merge Join")
        or "hashed SubPlan" in n.get("Filter", "") + n.get("Join Filter", "")
    ]
    read = sum(
        (n.get("Actual Rows", 0) + n.get("Rows Removed by Filter", 0)) * n.get("Actual Loops", 1)
        for n in _nodes(top)
        if n["Node Type"] in SCANS and not n.get("Relation Name", "").startswith("_dm_")
    )
    return int(read), whole


def batch_reads(url: str, root_name: str) -> dict[str, int]:
    """Buffers each statement of one batch of ``BATCH`` roots reads, by statement label."""
    fam = next(f for f in catalog.FAMILIES if any(r.name == root_name for r in f.roots))
    root = next(r for r in fam.roots if r.name == root_name)
    policy = resolve(None, {"archive": False})
    out: dict[str, int] = {}
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute("ANALYZE")
        plan = plan_root(root, snapshot(conn), policy)
        params = {
            **plan.params,
            "cutoff": ANCHOR - timedelta(days=policy.days_for(fam.name)),
            "limit": BATCH,
            "run_key": "shapes",
            "excluded": [],
        }
        with conn.transaction(force_rollback=True):
            conn.execute("SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)")
            conn.execute(render("purge/create_candidates.sql", cand=plan.cand, table=root.table, carry=plan.carry))
            if plan.walk == "ctid":
                params["from_tid"], params["to_tid"] = "(0,0)", f"({heap_extent(conn, root.table).blocks_for(BATCH)},0)"
            conn.execute(
                render("purge/select_window.sql", cand=plan.cand, has_cursor=False, has_exclusions=False, **plan.template), params
            )
            conn.execute(render("purge/analyze_candidates.sql", cand=plan.cand))
            batch = [statements.keep(plan, rule, index_plans=True) for rule in plan.keep_rules]
            batch += [statements.delete_path(plan, path) for path in plan.paths]
            batch += [statements.delete_root(plan), statements.offenders(plan)]
            for stmt in batch:
                hashing = "on" if stmt.scans else "off"
                conn.execute(
                    "SELECT set_config('enable_hashjoin', %s, true), set_config('enable_mergejoin', %s, true)", [hashing, hashing]
                )
                out[stmt.label] = (*_explain(conn, render(stmt.template, mode="delete", **stmt.context), params), stmt.scans)
    return out


@pytest.fixture(scope="module")
def two_sizes(databases):
    small = databases.fresh("1.14")  # the session's template: 600 runs
    big = databases.fresh("1.14", scale=generator.Scale(runs=2400, tenants=2))
    return small, big


@pytest.mark.parametrize("root", ROOTS)
def test_batch_reads_do_not_grow_with_the_table(root, two_sizes):
    small, big = (batch_reads(url, root) for url in two_sizes)
    assert small.keys() == big.keys() and len(small) > 3
    scans = {label for label, (_, _, scans) in small.items() if scans}
    assert {(root, label) for label in scans} == {e for e in EXPECTED_SCANS if e[0] == root}
    whole = {label: reads for label, (_, reads, _) in big.items() if reads and label not in scans}
    assert whole == {}, f"statements of a {root} batch that read a whole table: {whole}"
    assert any(reads for reads, _, _ in big.values())  # the batch did read and delete rows
