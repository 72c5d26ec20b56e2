"""The catalog of where Dify rows name files, against every real schema dump: each source exists
exactly in the releases it says, every column that could hold a file reference is either a
source or declared quiet with a reason, and no declaration names a column no release has."""

from __future__ import annotations

import psycopg
import pytest
from psycopg.rows import dict_row
from support.env import ALL_DUMPS, SHARED_SCHEMAS

from devtools import fixtures
from dify_maintenance.core.sqltemplates import render
from dify_maintenance.files import filerefs


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


@pytest.fixture(scope="module")
def dump_columns(databases) -> dict[str, list[dict]]:
    if not ALL_DUMPS:
        pytest.skip(f"real schema dumps not in {SHARED_SCHEMAS}")
    columns = {}
    for dump in ALL_DUMPS:
        url = databases.fresh(empty=True)
        fixtures.load_dump(url, dump)
        with psycopg.connect(url, row_factory=dict_row) as conn:
            columns[dump.stem.removeprefix("dify-")] = conn.execute(render("orphans/text_columns.sql")).fetchall()
    return columns


def test_every_column_that_could_name_a_file_is_declared(dump_columns):
    for release, columns in dump_columns.items():
        assert [s.name for s in filerefs.unlisted(columns)] == [], release


def test_each_source_exists_from_the_release_it_names(dump_columns):
    for release, columns in dump_columns.items():
        have = {(c["table_name"], c["column_name"]) for c in columns}
        for source in filerefs.SOURCES:
            expected = _release(release) >= _release(source.since)
            assert ((source.table, source.column) in have) == expected, (release, source.name, source.since)
        for payload in filerefs.PAYLOADS:
            tables = {t for t, _ in have}
            assert (payload.table in tables) == (_release(release) >= _release(payload.since)), (release, payload.name)


def test_no_declaration_names_a_column_no_release_has(dump_columns):
    have = {(c["table_name"], c["column_name"]) for columns in dump_columns.values() for c in columns}
    tables = {t for t, _ in have}
    assert sorted(set(filerefs.QUIET_TABLES) - tables) == []
    stale = [f"{t}.{c}" for t, cols in filerefs.QUIET_COLUMNS.items() for c in cols if (t, c) not in have]
    assert stale == []
    assert [k for k in filerefs.KEY_COLUMNS if k not in have] == []
    # a column is a source or quiet, never both
    both = [s.name for s in filerefs.SOURCES if filerefs.is_quiet(s.table, s.column)]
    assert both == []


def test_a_column_a_newer_dify_adds_is_searched():
    columns = [
        {"table_name": "messages", "column_name": "answer", "data_type": "text", "max_length": None},
        {"table_name": "agent_workspaces", "column_name": "snapshot", "data_type": "text", "max_length": None},
        {"table_name": "agent_workspaces", "column_name": "upload_file_id", "data_type": "uuid", "max_length": None},
        {"table_name": "agent_workspaces", "column_name": "owner_id", "data_type": "uuid", "max_length": None},
        {"table_name": "agent_workspaces", "column_name": "status", "data_type": "character varying", "max_length": 16},
    ]
    found = {(s.name, s.form) for s in filerefs.unlisted(columns)}
    assert found == {("agent_workspaces.snapshot", "text"), ("agent_workspaces.upload_file_id", "id")}
    assert [s.name for s in filerefs.present(columns)][0] == "messages.answer"
