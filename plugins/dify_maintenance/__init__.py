"""dify_maintenance: the engine behind the Dify maintenance DAGs.

The DAG files in ``dags/`` only compose tasks; everything that touches a database or a store
lives here, in small modules with one job each. The SQL templates and the data files (policy
defaults, Dify's versions and schemas, the upgrade impact) ship inside the package, in
``resources/``, so installing it and copying ``dags/*.py`` into a DAGs folder is a whole install.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

__version__ = "0.9.0"

# The package's own data; ``DIFY_MAINT_RESOURCES`` may name a folder of the same layout (your own
# templates or policy defaults), which nothing needs.
INCLUDE_DIR = Path(os.environ.get("DIFY_MAINT_RESOURCES") or str(files(__name__) / "resources"))
SQL_DIR = INCLUDE_DIR / "sql"
# The repository checkout (development tools and tests only; an installed package has none).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
