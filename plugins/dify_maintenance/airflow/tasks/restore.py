"""The task of ``dify_restore_archive``: reload archived rows idempotently."""

from __future__ import annotations

import logging

from airflow.sdk import TriggerRule, get_current_context

from dify_maintenance.airflow.tasks.common import archive_store, connector_for, current_settings, fail_fast, run_params, task
from dify_maintenance.airflow.tasks.lifecycle import end_run
from dify_maintenance.core import settings as settings_mod
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
    where = settings_mod.resolve(None) if params.get("use_defaults") else current_settings()
    result = restore_archive(connector_for(where), archive_store(where), prefix, set(params.get("tables") or []) or None)
    for table, stats in result.items():
        log.info("restored %s: %s", table, stats)
    return result


@task(trigger_rule=TriggerRule.ALL_DONE)
@fail_fast
def report() -> dict:
    """The rows restored per table, into the history and the run's note (after a failure too)."""
    restored = get_current_context()["ti"].xcom_pull(task_ids="restore")
    rep = {"outcome": "success" if restored is not None else "failed", "restored": restored or {}}
    lines = [f"{table}: {stats}" for table, stats in (restored or {}).items()] or ["nothing restored"]
    end_run("Dify archive restore", rep, lines, began=False, create_schema=restored is not None)
    return rep["restored"]
