"""Where the tests run: the project's folders, the real Dify schema dumps, and a throwaway
AIRFLOW_HOME. Airflow reads its configuration when it is first imported, so this module sets the
environment and is imported (by conftest) before anything imports airflow."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_HOME = ROOT / ".airflow_test_home"
SHARED_SCHEMAS = ROOT.parent / "shared" / "dify-schema"


def _release(dump: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in dump.stem.removeprefix("dify-").split("."))


_NEWEST_SUPPORTED = tuple(
    int(p)
    for p in json.loads((ROOT / "plugins" / "dify_maintenance" / "resources" / "dify_versions.json").read_text())[
        "newest_supported"
    ].split(".")
)
# Real schema dumps (they come with ../shared in CI), oldest first, up to the newest release the
# engine knows (a dump past it would be a test of the schema-drift guard, tests/test_real_dumps.py).
ALL_DUMPS = sorted(SHARED_SCHEMAS.glob("dify-*.sql"), key=_release) if SHARED_SCHEMAS.is_dir() else []
SUPPORTED_DUMPS = [d for d in ALL_DUMPS if _release(d) <= _NEWEST_SUPPORTED]

os.environ["AIRFLOW_HOME"] = str(AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{AIRFLOW_HOME}/airflow.db"
os.environ["DIFY_MAINT_ARCHIVE_ROOT"] = str(AIRFLOW_HOME / "dify-archive")
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT))  # devtools/

from devtools import pgembed  # noqa: E402

pgembed.offer_clients()  # pg_dump/pg_restore of the embedded server, where no local one fits
