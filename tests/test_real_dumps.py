"""The retention DAG end to end on every real Dify schema dump in ../shared/dify-schema."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from airflow.utils.state import DagRunState
from conftest import ANCHOR, SHARED_SCHEMAS

from dify_maintenance import fixtures, generator
from dify_maintenance.db import url_connector

DUMPS = sorted(SHARED_SCHEMAS.glob("dify-*.sql")) if SHARED_SCHEMAS.is_dir() else []
REASON = f"real schema dumps not found in {SHARED_SCHEMAS} (they come with ../shared in CI)"


@pytest.mark.skipif(not DUMPS, reason=REASON)
@pytest.mark.parametrize("dump", DUMPS, ids=[p.stem for p in DUMPS])
def test_retention_on_real_dump(dump: Path, databases, run_dag, tmp_path):
    url = databases.fresh(empty=True)
    fixtures.load_dump(url, dump)
    generator.generate(url_connector(url), anchor=ANCHOR, scale=generator.Scale(runs=300, tenants=2))
    dr, xcoms, states = run_dag("dify_retention", url, archive_root=tmp_path / "arch")
    assert dr.state == DagRunState.SUCCESS, states
    assert xcoms["report"]["dify_version"] == dump.stem.removeprefix("dify-")
    assert xcoms["report"]["total_deleted"] > 0
    with psycopg.connect(url) as conn:
        report = conn.execute("select report from dify_maintenance.history").fetchone()[0]
    assert report["verify"]["failed"] == 0
    deleted = {t: r["deleted"] for t, r in report["tables"].items()}
    archived = {t: r["archived"] for t, r in report["tables"].items()}
    assert deleted == archived
