"""Write ``plugins/dify_maintenance/resources/known_schemas.json``: the tables and columns of the Dify releases the schema-
drift guard compares an unknown head with (the newest known release, and 1.14.1 for the test that
presents 1.16.1 as unknown). Read from the real schema dumps in ``../shared/dify-schema``.

    PYTHONPATH=plugins:. .venv/bin/python -m devtools.known_schemas
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

from devtools import fixtures, pgembed

DUMPS = Path(__file__).resolve().parents[1].parent / "shared" / "dify-schema"
RELEASES = ("1.14.1", "1.16.1")  # the newest known, and the one the drift test pretends is newest
OUT = Path(__file__).resolve().parents[1] / "plugins" / "dify_maintenance" / "resources" / "known_schemas.json"


def main() -> None:
    admin, _ = pgembed.admin_url("DIFY_MAINT_TEST_PG_URL")
    out: dict = {"_comment": "Tables and columns of known Dify releases, from the real dumps (devtools/known_schemas.py)."}
    for release in RELEASES:
        name = f"dm_known_{release.replace('.', '_')}"
        url = fixtures.recreate_database(admin, name)
        try:
            fixtures.load_dump(url, DUMPS / f"dify-{release}.sql")
            with psycopg.connect(url) as conn:
                rows = conn.execute(
                    "select table_name, column_name from information_schema.columns "
                    "where table_schema = 'public' order by table_name, ordinal_position"
                ).fetchall()
            tables: dict[str, list[str]] = {}
            for table, column in rows:
                tables.setdefault(table, []).append(column)
            out[release] = tables
        finally:
            fixtures.drop_database(admin, name)
    OUT.write_text(json.dumps(out, indent=0, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({', '.join(RELEASES)})")


if __name__ == "__main__":
    main()
