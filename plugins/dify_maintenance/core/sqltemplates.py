"""Every SQL statement lives in ``resources/sql`` as a Jinja template; this module renders them.

Development tools keep their SQL apart (``devtools/sql``, ``bench/sql``) and register it under a
name prefix (``generate/...``, ``bench/...``); what the DAGs run is only ever ``resources/sql``.

Templates receive identifiers only as ``psycopg.sql.Identifier`` objects (rendered quoted) and
values only as bind placeholders (``%(name)s``). Nothing from a user reaches the template text.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import jinja2
from psycopg import sql

from dify_maintenance import SQL_DIR

# prefix -> folder of templates registered by development tools (never by the engine itself)
_REGISTERED: dict[str, Path] = {}


def register_templates(prefix: str, folder: Path) -> None:
    """Make ``<prefix>/<name>`` render ``folder/<name>`` (for devtools and bench only)."""
    if _REGISTERED.get(prefix) != folder:
        _REGISTERED[prefix] = folder
        _environment.cache_clear()


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    loader: jinja2.BaseLoader = jinja2.FileSystemLoader(str(SQL_DIR))
    if _REGISTERED:
        extra = jinja2.PrefixLoader({prefix: jinja2.FileSystemLoader(str(folder)) for prefix, folder in _REGISTERED.items()})
        loader = jinja2.ChoiceLoader([extra, loader])
    env = jinja2.Environment(
        loader=loader,
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - renders SQL, not HTML; identifiers go through the ident filter
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ident"] = _ident
    env.filters["literal"] = _literal
    env.filters["sqlword"] = _sqlword
    return env


def _ident(*parts: str) -> str:
    """Quote a (possibly schema-qualified) identifier exactly as PostgreSQL expects it."""
    return sql.Identifier(*parts).as_string(None)


def _literal(value: object) -> str:
    """A quoted SQL literal, for the few utility statements (DDL) that cannot take bind
    parameters; used only with values read from the server's own catalog."""
    return sql.Literal(value).as_string(None)


# Privilege keywords as aclexplode() reports them; anything else is refused, never inlined.
_SQL_WORDS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN"})


def _sqlword(value: str) -> str:
    if value not in _SQL_WORDS:
        raise ValueError(f"refusing to put {value!r} into SQL text")
    return value


def render(name: str, **context: object) -> sql.SQL:
    """Render ``resources/sql/<name>`` and wrap it so psycopg treats it as trusted SQL text."""
    text = _environment().get_template(name).render(**context)
    return sql.SQL(text)  # noqa: S608 - identifiers are quoted by the ident filter, values are bound
