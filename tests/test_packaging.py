"""The package as teams install it: a wheel with its templates and data inside, and the DAG files
copied alone into a DAGs folder (Cloud Composer, MWAA), or an Astronomer project. Each layout is
parsed by Airflow's own DagBag in a fresh interpreter that sees only the installed wheel, never
this checkout's plugins/ or include/."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from support.env import ROOT

DAG_COUNT = 11

PARSE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
from airflow import plugins_manager
bag = DagBag(dag_folder=sys.argv[1])
plugins_manager.ensure_plugins_loaded()
import dify_maintenance
print(json.dumps({
    "dags": sorted(bag.dag_ids),
    "errors": {k: v[-400:] for k, v in bag.import_errors.items()},
    "plugins": sorted(p.name for p in plugins_manager._get_plugins()[0]),
    "package": dify_maintenance.__file__,
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """``uv build --wheel`` of this checkout (what ``make dist`` and ``pip wheel .`` build)."""
    out = tmp_path_factory.mktemp("dist")
    uv = Path(sys.executable).with_name("uv")
    subprocess.run([str(uv), "build", "--wheel", "--out-dir", str(out), str(ROOT)], check=True, capture_output=True, timeout=300)
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    (found,) = out.glob("dify_maintenance-*.whl")
    return found


def install(wheel: Path, target: Path) -> Path:
    """The wheel alone (its dependencies are this environment's Airflow and libraries)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return target


def parse(site: Path, dags: Path, plugins: Path, home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW") and k not in ("PYTHONPATH", "DIFY_MAINT_RESOURCES")}
    env.update(
        PYTHONPATH=str(site),
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(plugins),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__LAZY_LOAD_PLUGINS="False",
    )
    out = subprocess.run([sys.executable, "-c", PARSE, str(dags)], env=env, capture_output=True, text=True, cwd=home, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_wheel_holds_the_templates_the_data_and_the_license_and_pins_nothing(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    shipped_sql = {n.removeprefix("dify_maintenance/resources/sql/") for n in names if n.endswith(".sql")}
    here = {
        p.relative_to(ROOT / "plugins/dify_maintenance/resources/sql").as_posix()
        for p in (ROOT / "plugins/dify_maintenance/resources/sql").rglob("*.sql")
    }
    assert shipped_sql == here
    for data in ("retention_policy.json", "dify_versions.json", "known_schemas.json", "upgrade_impact.json"):
        assert f"dify_maintenance/resources/{data}" in names
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("dist-info/METADATA"))).decode()
    requires = [line for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    assert requires and not [r for r in requires if "==" in r]
    assert any(n.endswith("dist-info/licenses/LICENSE") for n in names)
    assert not [n for n in names if n.split("/")[0] in ("tests", "devtools", "bench", "dags")]


def test_dag_files_copied_alone_beside_the_installed_wheel_parse(wheel, tmp_path):
    """Cloud Composer / MWAA: the wheel from requirements, dags/*.py copied, nothing else."""
    site = install(wheel, tmp_path / "site")
    dags = tmp_path / "dags"
    dags.mkdir()
    for dag_file in (ROOT / "dags").glob("*.py"):
        shutil.copy(dag_file, dags)
    (tmp_path / "plugins").mkdir()
    seen = parse(site, dags, tmp_path / "plugins", tmp_path)
    assert seen["errors"] == {}
    assert len(seen["dags"]) == DAG_COUNT
    assert seen["package"].startswith(str(site))
    # the plugins come from the package's entry points: no plugins folder needed
    assert {"dify_maintenance_notes", "dify_maintenance_ui"} <= set(seen["plugins"])


def test_an_astronomer_project_parses(wheel, tmp_path):
    """An Astronomer project: dags/, include/, plugins/, requirements.txt naming the wheel and
    packages.txt (the PostgreSQL client for backups); the image installs requirements.txt."""
    project = tmp_path / "astro"
    shutil.copytree(ROOT / "dags", project / "dags", ignore=shutil.ignore_patterns("__pycache__"))
    (project / "include").mkdir()
    (project / "plugins").mkdir()
    (project / "requirements.txt").write_text(f"{wheel.name}\n")
    (project / "packages.txt").write_text("postgresql-client\n")
    site = install(wheel, tmp_path / "site")
    seen = parse(site, project / "dags", project / "plugins", tmp_path)
    assert seen["errors"] == {} and len(seen["dags"]) == DAG_COUNT
    assert {"dify_maintenance_notes", "dify_maintenance_ui"} <= set(seen["plugins"])
