"""The DAGs on the oldest Airflow this package supports: the wheel installed with its declared
dependency ranges (resolved by uv against that Airflow, as a user's pip would) into a fresh
virtualenv, the DAG files copied alone into a DAGs folder, parsed by that Airflow's DagBag.

    python -m devtools.oldest_airflow            # Airflow 3.2.* (make test-oldest-airflow)
    python -m devtools.oldest_airflow --airflow '3.3.*'

The virtualenv is kept under .cache/ (a second run only builds the wheel and parses)."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OLDEST = "3.2.*"
DAG_COUNT = 11
PLUGINS = {"dify_maintenance_notes", "dify_maintenance_ui"}

PARSE = """
import json, sys
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:
    from airflow.models.dagbag import DagBag
from airflow import plugins_manager
import airflow, dify_maintenance
bag = DagBag(dag_folder=sys.argv[1])
plugins_manager.ensure_plugins_loaded()
loaded = getattr(plugins_manager, "plugins", None) or plugins_manager._get_plugins()[0]
print(json.dumps({"airflow": airflow.__version__, "package": dify_maintenance.__version__,
                  "dags": sorted(bag.dag_ids), "errors": bag.import_errors,
                  "plugins": sorted(p.name for p in loaded)}))
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--airflow", default=OLDEST, help="the Airflow version (a pip version spec)")
    args = parser.parse_args()
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or "uv"
    cache = ROOT / ".cache" / f"airflow-{args.airflow.replace('*', 'x')}"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        subprocess.run([uv, "build", "--quiet", "--wheel", "--out-dir", str(work / "dist"), str(ROOT)], check=True)
        shutil.rmtree(ROOT / "build", ignore_errors=True)
        (wheel,) = (work / "dist").glob("*.whl")
        if not (cache / "bin" / "python").exists():
            subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(cache)], check=True)
        python = cache / "bin" / "python"
        subprocess.run(
            [uv, "pip", "install", "--quiet", "--python", str(python), f"apache-airflow=={args.airflow}", str(wheel)],
            check=True,
        )
        dags = work / "dags"
        dags.mkdir()
        for dag_file in (ROOT / "dags").glob("*.py"):
            shutil.copy(dag_file, dags)
        (work / "plugins").mkdir()
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(work),
            "AIRFLOW_HOME": str(work),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(work / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__LAZY_LOAD_PLUGINS": "False",
        }
        out = subprocess.run(
            [str(python), "-c", PARSE, str(dags)], env=env, cwd=work, capture_output=True, text=True, check=False
        )
    if out.returncode != 0:
        print(out.stderr[-4000:], file=sys.stderr)
        return 1
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    ok = not seen["errors"] and len(seen["dags"]) == DAG_COUNT and PLUGINS <= set(seen["plugins"])
    print(
        f"Airflow {seen['airflow']}, dify-maintenance {seen['package']}: {len(seen['dags'])} DAGs, "
        f"{len(seen['errors'])} import errors, plugins {', '.join(seen['plugins'])}"
    )
    for path, error in seen["errors"].items():
        print(f"{path}:\n{error[-1500:]}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
