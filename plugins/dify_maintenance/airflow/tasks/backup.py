"""The tasks of ``dify_backup``."""

from __future__ import annotations

import logging

from airflow.sdk import TriggerRule, get_current_context

from dify_maintenance.airflow import connections
from dify_maintenance.airflow.tasks.common import backup_store, current_settings, fail_fast, run_params, task
from dify_maintenance.airflow.tasks.lifecycle import end_run
from dify_maintenance.core.db import connection
from dify_maintenance.core.schema import detect_version, snapshot
from dify_maintenance.database import backup as backup_mod
from dify_maintenance.database.backup import BackupRequest
from dify_maintenance.database.forms import BACKUP_FORM

log = logging.getLogger(__name__)


def _request(params: dict) -> BackupRequest:
    """The form's values, checked against the declared form, as the engine's backup request."""
    values = BACKUP_FORM.checked(params, "backup")
    req = BackupRequest(
        scope=values["scope"],
        tables=tuple(values["tables"] or ()),
        jobs=values["jobs"],
        compression=values["compression"],
        exact_counts=values["restore_check"],
    )
    req.validate()
    return req


def _conn_id() -> str:
    return current_settings().conn_id


@task
@fail_fast
def preflight() -> dict:
    """The database is Dify and reachable, the request is valid, and what the dump needs is there
    (clients of the server's version, a store that takes and gives back bytes, room): the same
    readiness check the pre-upgrade cleanup makes."""
    params = run_params()
    req = _request(params)
    conn_id = _conn_id()
    target = connections.dify_database(conn_id)
    with connection(target) as conn:
        version = detect_version(conn, snapshot(conn))
    ready = backup_mod.readiness(target, backup_store(), req)
    return {"conn_id": conn_id, "dify_version": version.version, "store": ready["store"], "scope": req.scope, "ready": ready}


@task(retries=0)
@fail_fast
def dump(ready: dict) -> dict:
    """pg_dump in directory format with parallel jobs, stored with a sha256 manifest."""
    params = run_params()
    return backup_mod.create(connections.dify_database(ready["conn_id"]), backup_store(), _request(params))


@task(retries=0)
@fail_fast
def verify(ready: dict, manifest: dict) -> dict:
    """Read it back: sha256 of every file, pg_restore --list, optionally a scratch restore."""
    params = run_params()
    target = connections.dify_database(ready["conn_id"])
    return backup_mod.verify(target, backup_store(), manifest["backup_id"], restore_check=bool(params["restore_check"]))


@task
@fail_fast
def rotate(ready: dict, verified: dict) -> dict:
    """Drop backups beyond the count or age limits; never the newest verified one."""
    params = run_params()
    target = connections.dify_database(ready["conn_id"])
    return backup_mod.rotate(
        backup_store(), target.dbname, keep_count=int(params["keep_count"]), keep_days=int(params["keep_days"])
    )


@task(trigger_rule=TriggerRule.ALL_DONE)
@fail_fast
def report() -> dict:
    """What was dumped, verified and rotated; into the history (where the maintenance page finds
    the newest verified backup) and the run's note. Runs after a failure too."""
    ti = get_current_context()["ti"]
    manifest, verified, rotated = (ti.xcom_pull(task_ids=t) for t in ("dump", "verify", "rotate"))
    rep, lines = backup_mod.run_report(manifest, verified, rotated)
    end_run("Dify backup", rep, lines, began=False, create_schema=True)
    return {"backup_id": rep.get("backup_id"), "verified": rep["verified"], "total_bytes": rep.get("total_bytes")}
