"""The retention DAG end to end on every real Dify schema dump in ../shared/dify-schema; dumps of
releases newer than the newest supported one are refused before anything is touched."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from airflow.utils.state import DagRunState
from conftest import ANCHOR, NEWER_DUMPS, SHARED_SCHEMAS, SUPPORTED_DUMPS

from devtools import fixtures, generator
from dify_maintenance.core.db import url_connector

REASON = f"real schema dumps not found in {SHARED_SCHEMAS} (they come with ../shared in CI)"


@pytest.mark.skipif(not SUPPORTED_DUMPS, reason=REASON)
@pytest.mark.parametrize("dump", SUPPORTED_DUMPS, ids=[p.stem for p in SUPPORTED_DUMPS])
def test_retention_on_real_dump(dump: Path, databases, run_dag, tmp_path):
    url = databases.fresh(empty=True)
    fixtures.load_dump(url, dump)
    generator.generate(url_connector(url), anchor=ANCHOR, scale=generator.Scale(runs=300, tenants=2))
    dr, xcoms, states = run_dag("dify_retention", url, conf={"dry_run": False}, archive_root=tmp_path / "arch")
    assert dr.state == DagRunState.SUCCESS, states
    assert xcoms["report"]["dify_version"] == dump.stem.removeprefix("dify-")
    assert xcoms["report"]["total_deleted"] > 0
    with psycopg.connect(url) as conn:
        report = conn.execute("select report from dify_maintenance.history").fetchone()[0]
    assert report["verify"]["failed"] == 0
    deleted = {t: r["deleted"] for t, r in report["tables"].items()}
    archived = {t: r["archived"] for t, r in report["tables"].items()}
    assert deleted == archived


def _row_counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute("select tablename from pg_tables where schemaname = 'public'")]
        return {
            t: conn.execute(psycopg.sql.SQL("select count(*) from {}").format(psycopg.sql.Identifier(t))).fetchone()[0]
            for t in tables
        }


@pytest.mark.parametrize("dump", NEWER_DUMPS, ids=[p.stem for p in NEWER_DUMPS])
def test_a_newer_dify_than_supported_is_refused_before_anything_is_touched(dump: Path, databases, run_dag, tmp_path):
    url = databases.fresh(empty=True)
    fixtures.load_dump(url, dump)
    generator.generate(url_connector(url), anchor=ANCHOR, scale=generator.Scale(runs=100, tenants=2))
    before = _row_counts(url)
    dr, xcoms, states = run_dag("dify_retention", url, conf={"dry_run": False}, archive_root=tmp_path / "arch")
    assert dr.state == DagRunState.FAILED
    assert states[("preflight", -1)] == "failed"
    assert _row_counts(url) == before
    assert not (tmp_path / "arch").exists()
