"""The package's rooms keep their walls: only ``dify_maintenance.airflow`` imports Airflow, the
engine never imports the development tools, the tests or the benchmarks, and ``resources/sql``
holds exactly the SQL that some code path runs."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from support.env import ROOT

ENGINE = ROOT / "plugins" / "dify_maintenance"
SQL = ENGINE / "resources" / "sql"
# development-only packages and folders the shipped code must never reach
DEV_ONLY = ("devtools", "tests", "bench", "conftest", "support", "pgserver", "pytest", "moto")


def imports(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, at the top or inside a function: (line, dotted name)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def engine_files() -> list[Path]:
    return sorted(ENGINE.rglob("*.py"))


def test_only_the_airflow_room_imports_airflow():
    outside = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in engine_files()
        if "airflow" not in path.relative_to(ENGINE).parts[:1]
        for line, name in imports(path)
        if name == "airflow" or name.startswith("airflow.")
    ]
    assert outside == []


def test_shipped_code_never_imports_development_tools():
    shipped = [*engine_files(), *sorted((ROOT / "dags").glob("*.py")), *sorted((ROOT / "plugins").glob("*.py"))]
    reaching = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in shipped
        for line, name in imports(path)
        if name.split(".")[0] in DEV_ONLY
    ]
    assert reaching == []


def test_the_rule_catches_a_violation(tmp_path):
    """The two walks above see lazy imports inside functions too."""
    sample = tmp_path / "x.py"
    sample.write_text("def f():\n    from airflow.sdk import Variable\n    import devtools.fixtures\n")
    assert [name for _, name in imports(sample)] == ["airflow.sdk", "devtools.fixtures"]


_TEMPLATE_NAME = re.compile(r"""["']([a-z_]+/[a-z0-9_]+\.sql)["']""")


def referenced_templates() -> dict[str, list[str]]:
    """Template names that shipped code renders (string literals), and those a template imports."""
    found: dict[str, list[str]] = {}
    for path in [*engine_files(), *sorted((ROOT / "dags").glob("*.py"))]:
        for name in _TEMPLATE_NAME.findall(path.read_text()):
            found.setdefault(name, []).append(str(path.relative_to(ROOT)))
    for path in SQL.rglob("*.sql"):
        for name in _TEMPLATE_NAME.findall(path.read_text()):
            found.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return found


def test_every_template_in_resources_sql_is_run_and_every_name_exists():
    present = {path.relative_to(SQL).as_posix() for path in SQL.rglob("*.sql")}
    named = referenced_templates()
    assert sorted(present - set(named)) == [], "templates no code path renders (move them to devtools/ or bench/, or delete)"
    assert {name: where for name, where in named.items() if name not in present} == {}, "rendered names with no template"


def test_sql_folders_match_the_code_that_runs_them():
    """Each folder of resources/sql serves one room (or state, the core's bookkeeping)."""
    folders = {path.parent.name for path in SQL.rglob("*.sql")}
    assert "bench" not in folders and "generate" not in folders


# The rooms from the bottom up: a room may import only the rooms before it (and itself).
ROOM_ORDER = ("core", "storage", "retention", "files", "logstore", "database", "dashboard", "airflow")


def room_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "dify_maintenance" and len(parts) > 1 and parts[1] in ROOM_ORDER else None


def upward_imports(files: list[Path], base: Path = ENGINE) -> list[str]:
    found = []
    for path in files:
        here = path.relative_to(base).parts[0]
        for line, name in imports(path):
            there = room_of(name)
            if there and ROOM_ORDER.index(there) > ROOM_ORDER.index(here):
                found.append(f"{path.relative_to(base).as_posix()}:{line} ({here}) imports {name} ({there})")
    return found


def test_rooms_import_only_the_rooms_below_them():
    """No two rooms import each other, lazy imports included: the order is the one
    ARCHITECTURE.md states, and a new room must be placed in it."""
    rooms = sorted(p.name for p in ENGINE.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert rooms == sorted(ROOM_ORDER)
    assert upward_imports([p for p in engine_files() if len(p.relative_to(ENGINE).parts) > 1]) == []


def test_the_room_order_catches_a_lazy_import_upwards(tmp_path):
    (tmp_path / "core").mkdir()
    sample = tmp_path / "core" / "probe.py"
    sample.write_text("def f():\n    from dify_maintenance.retention import plan\n")
    assert upward_imports([sample], base=tmp_path) == ["core/probe.py:2 (core) imports dify_maintenance.retention (retention)"]
