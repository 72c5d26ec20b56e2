"""Run one log-migration stream in its own process, so a test can SIGKILL it mid-stream.

Usage: DIFY_MAINT_CHILD_DB_URL=... python tests/support/log_migrate_child.py <cluster url> <request json> <partition json>
(the database URL travels in the environment, never in argv)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

from dify_maintenance.core.db import url_connector  # noqa: E402
from dify_maintenance.logstore import migrate  # noqa: E402
from dify_maintenance.logstore.cluster import ClusterConfig  # noqa: E402

if __name__ == "__main__":
    url = os.environ["DIFY_MAINT_CHILD_DB_URL"]
    cluster_url, request, partition = sys.argv[1:4]
    cluster = ClusterConfig(hosts=(cluster_url,))
    req = migrate.Request.from_dict(json.loads(request))
    migrate.migrate_partition(url_connector(url), cluster.client(), cluster, req, json.loads(partition), None)
