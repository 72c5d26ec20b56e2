"""Create scratch Dify databases: from our own fixture schemas (two generations) or a real dump.

Used by the demo, the tests and the benchmarks; tests create and drop their own databases.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import psycopg
from psycopg import sql

from dify_maintenance import PROJECT_ROOT
from dify_maintenance.database.schema_diff import UUID_OSSP, dump_text

FIXTURE_DIR = PROJECT_ROOT / "tests" / "fixtures"
GENERATIONS = ("0.15", "1.14")


# Dify's schema defaults ids to uuid_generate_v4() from uuid-ossp. The embedded server ships
# without contrib extensions, so fall back to the same function over core gen_random_uuid().
def fixture_schema(generation: str) -> str:
    """Our own Dify-shaped DDL for ``generation`` ("0.15" or "1.14")."""
    if generation not in GENERATIONS:
        raise ValueError(f"unknown fixture generation {generation!r}; known: {', '.join(GENERATIONS)}")
    text = (FIXTURE_DIR / "dify_schema.sql.j2").read_text(encoding="utf-8")
    return jinja2.Template(text, trim_blocks=True, lstrip_blocks=True).render(generation=generation, uuid_ossp=UUID_OSSP)


def with_database(admin_url: str, name: str) -> str:
    """The URL of database ``name`` on the server ``admin_url`` points at."""
    info = psycopg.conninfo.conninfo_to_dict(admin_url)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**info)


def recreate_database(admin_url: str, name: str, template: str | None = None) -> str:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if template:
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(admin_url, name)


def copy_database(admin_url: str, template: str, name: str) -> str:
    """A fast copy of a (benchmark) template: FILE_COPY, because the default WAL_LOG strategy
    would write the whole template through the WAL and distort what is measured next."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY").format(sql.Identifier(name), sql.Identifier(template))
        )
        conn.execute("CHECKPOINT")
    return with_database(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def load_sql(url: str, text: str) -> None:
    """Run a whole schema script (simple protocol, many statements)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(text.encode())
        conn.execute("SET search_path TO public")


def load_dump(url: str, path: Path) -> None:
    load_sql(url, dump_text(path))
