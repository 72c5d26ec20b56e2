"""The task of ``dify_restore_archive``: reload archived rows idempotently."""

from __future__ import annotations

import logging

from airflow.sdk import task

from dify_maintenance.airflow.tasks.common import archive_store, connector_for, current_policy, fail_fast, run_params
from dify_maintenance.core import policy as policy_mod
from dify_maintenance.core.errors import InvalidPolicy
from dify_maintenance.retention.restore import restore as restore_archive

log = logging.getLogger(__name__)


@task
@fail_fast
def restore() -> dict:
    """Restore every batch under the chosen archive prefix, parents before children."""
    params = run_params()
    prefix = params["archive_prefix"]
    if not prefix.startswith("retention/") or ".." in prefix:
        raise InvalidPolicy(f"archive_prefix must name a run under retention/, got {prefix!r}")
    policy = policy_mod.resolve(None, {}) if params.get("use_defaults") else current_policy()
    result = restore_archive(connector_for(policy), archive_store(policy), prefix, set(params.get("tables") or []) or None)
    for table, stats in result.items():
        log.info("restored %s: %s", table, stats)
    return result
