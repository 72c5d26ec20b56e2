"""The moment every scenario is built around (the database's clock, never a fixed date) and the
scratch databases the tests create from generated templates and drop at the end."""

from __future__ import annotations

import uuid
from datetime import datetime

import psycopg

import support.env  # noqa: F401 (Airflow's environment and the import paths first)
from devtools import fixtures, generator, pgembed
from dify_maintenance.core.db import url_connector


def _database_now() -> datetime:
    """The database server's clock (naive UTC): Dify dates its rows by it, and every deleting run
    refuses a cutoff later than it."""
    url, _where = pgembed.admin_url("DIFY_MAINT_TEST_PG_URL")
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT now() AT TIME ZONE 'UTC'").fetchone()[0]


# "now" of the generated data (naive UTC): the database's clock when the session starts, so every
# scenario is built relative to the moment its rows and runs are judged by. Never a fixed date.
# Under make test-future the tests' own clock (and Airflow's) is a year ahead of the database's:
# code that reads the worker's wall clock where it should read the run's or the database's then
# sees a year's difference and fails.
ANCHOR = _database_now().replace(second=0, microsecond=0)
SMALL = generator.Scale(runs=600, tenants=2)


class Databases:
    """Creates scratch databases (from templates filled once per session) and drops them all."""

    def __init__(self, admin: str) -> None:
        self.admin = admin
        self.created: list[str] = []
        self.templates: dict[str, str] = {}

    def template(self, generation: str, scale: generator.Scale = SMALL, seed: str = "dify") -> str:
        key = f"{generation}:{scale.runs}:{scale.tenants}:{seed}"
        if key not in self.templates:
            name = f"dm_tpl_{uuid.uuid4().hex[:10]}"
            url = fixtures.recreate_database(self.admin, name)
            fixtures.load_sql(url, fixtures.fixture_schema(generation))
            generator.generate(url_connector(url), seed=seed, anchor=ANCHOR, scale=scale)
            self.created.append(name)
            self.templates[key] = name
        return self.templates[key]

    def fresh(self, generation: str | None = None, scale: generator.Scale = SMALL, empty: bool = False) -> str:
        """A new database: a copy of a generated template, or an empty one."""
        name = f"dm_test_{uuid.uuid4().hex[:10]}"
        template = None if empty or generation is None else self.template(generation, scale)
        url = fixtures.recreate_database(self.admin, name, template)
        self.created.append(name)
        return url

    def drop_all(self) -> None:
        for name in reversed(self.created):
            fixtures.drop_database(self.admin, name)
