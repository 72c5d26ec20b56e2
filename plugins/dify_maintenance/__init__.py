"""dify_maintenance: the engine behind the Dify maintenance DAGs.

The DAG files in ``dags/`` only compose tasks; everything that touches a database or a store
lives here, in small modules with one job each.
"""

from __future__ import annotations

__version__ = "0.9.0"

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
INCLUDE_DIR = PROJECT_ROOT / "include"
SQL_DIR = INCLUDE_DIR / "sql"
