"""The tasks of ``dify_backup``."""

from __future__ import annotations

import logging

from airflow.sdk import get_current_context, task

from dify_maintenance.airflow import connections
from dify_maintenance.airflow.tasks.common import backup_store, current_policy, fail_fast, run_params
from dify_maintenance.core import state
from dify_maintenance.core.db import connection
from dify_maintenance.core.policy import Policy
from dify_maintenance.core.schema import detect_version, snapshot
from dify_maintenance.database import backup as backup_mod
from dify_maintenance.database.backup import BACKUP_FORM, BackupRequest

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
    policy: Policy = current_policy()
    return policy.conn_id


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


@task
@fail_fast
def report(manifest: dict, verified: dict, rotated: dict) -> dict:
    lines = [
        f"Dify backup {manifest['backup_id']} of {manifest['database']}",
        f"Dify {manifest['dify_version']} (alembic {manifest['alembic_head']}), PostgreSQL {manifest['server_version']}",
        f"scope {manifest['scope']}, {len(manifest['files'])} files, {manifest['total_bytes'] / 1e6:.1f} MB, "
        f"{manifest['format_options']['compression']}, {manifest['duration_seconds']} s, stored in {manifest['store']}",
        f"verified: {verified['checks']}",
        f"rotation: kept {len(rotated['kept'])}, deleted {rotated['deleted'] or 'none'}",
    ]
    log.info("\n%s", "\n".join(lines))
    rep = {
        "backup_id": manifest["backup_id"],
        "verified": verified["ok"],
        "total_bytes": manifest["total_bytes"],
        "database": manifest["database"],
        "dify_version": manifest["dify_version"],
        "scope": manifest["scope"],
        "store": manifest["store"],
        "rotation": {"kept": len(rotated["kept"]), "deleted": rotated["deleted"]},
    }
    # into the history too, where the maintenance page finds the newest verified backup
    dag_run = get_current_context()["dag_run"]
    with connection(connections.dify_database(_conn_id())) as conn:
        state.ensure_schema(conn)
        outcome = "success" if verified["ok"] else "failed"
        state.append_history(
            conn, run_key=f"{dag_run.dag_id}/{dag_run.run_id}", dag_id=dag_run.dag_id, outcome=outcome, report=rep
        )
    return {"backup_id": manifest["backup_id"], "verified": verified["ok"], "total_bytes": manifest["total_bytes"]}
