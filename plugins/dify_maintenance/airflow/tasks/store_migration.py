"""The tasks of ``dify_storage_migration``."""

from __future__ import annotations

import logging
from datetime import datetime

from airflow.sdk import TriggerRule, get_current_context

from dify_maintenance.airflow import connections
from dify_maintenance.airflow.tasks.common import current_settings, fail_fast, run_params, task
from dify_maintenance.airflow.tasks.lifecycle import end_run
from dify_maintenance.core.errors import InvalidPolicy
from dify_maintenance.files import filecheck
from dify_maintenance.files import store_migration as migration
from dify_maintenance.files.forms import MIGRATION_FORM
from dify_maintenance.storage import dify_storage
from dify_maintenance.storage.stores import StoreConfig, check_store

log = logging.getLogger(__name__)


def _params() -> dict:
    """The form's values, checked against the declared form (also what the conf sets)."""
    return MIGRATION_FORM.checked(run_params(), "storage-migration")


def _stores(params: dict) -> tuple[StoreConfig, StoreConfig]:
    source = connections.dify_storage(params.get("source_conn_id"), params.get("source_dify_env"))
    target = connections.dify_storage(params.get("target_conn_id"), params.get("target_dify_env"))
    return source, target


@task
@fail_fast
def preflight() -> dict:
    """Both storages resolve, differ, and answer; the target takes and gives back bytes (real runs)."""
    params = _params()
    source, target = _stores(params)
    if (source.scheme, source.describe(), source.prefix) == (target.scheme, target.describe(), target.prefix):
        raise InvalidPolicy("source and target are the same storage")
    if not params["prefixes"]:
        raise InvalidPolicy("at least one key prefix is needed")
    missing_keys = [p for p in dify_storage.PROTECTED_PREFIXES if p not in params["prefixes"]]
    if missing_keys:
        log.warning("prefixes leave out %s: the target will lack the workspace keys that decrypt model credentials", missing_keys)
    if not params["dry_run"]:
        check_store(target)
    return {"source": source.describe(), "target": target.describe(), "migration_id": migration.migration_id(source, target)}


@task
@fail_fast
def inventory(ready: dict) -> dict:
    """List the source once (streaming) into shard files; a dry run only counts."""
    params = _params()
    source, target = _stores(params)
    since = datetime.fromisoformat(params["modified_since"]) if params.get("modified_since") else None
    if params["dry_run"]:
        objects = total = 0
        for prefix in params["prefixes"]:
            for _, size in migration.list_objects(source, prefix, since):
                objects += 1
                total += size
        return {"migration_id": ready["migration_id"], "objects": objects, "bytes": total, "shards": [], "dry_run": True}
    return migration.inventory(source, target, params["prefixes"], int(params["shards"]), since)


@task
@fail_fast
def shards_of(inv: dict) -> list[int]:
    return inv["shards"]


@task(map_index_template="shard {{ shard }}", retries=2)
@fail_fast
def copy(shard: int, inv: dict) -> dict:
    """Copy one shard in parallel, verifying each object; a retry copies only what is not verified."""
    params = _params()
    source, target = _stores(params)
    result = migration.copy_shard(
        source,
        target,
        inv["migration_id"],
        shard,
        concurrency=int(params["concurrency"]),
        overwrite=params["overwrite"],
        verify=params["verify"],
        trust_manifest=not params["verification_pass"],
    )
    if result["failed"]:
        first = "; ".join(f"{k}: {v}" for k, v in list(result["failed"].items())[:5])
        raise migration.MigrationFailed(f"shard {shard}: {len(result['failed'])} objects failed ({first}); rerun to retry them")
    sha3 = result.pop("sha3", {})
    if params["check_database"] and not params["dry_run"]:
        found = filecheck.hash_mismatches(connections.dify_database(current_settings().conn_id), sha3)
        result["hash_mismatch"], result["hash_mismatch_count"] = found[: filecheck.REPORT_LIMIT], len(found)
    return result


@task(trigger_rule=TriggerRule.NONE_FAILED)
@fail_fast
def check_database(ready: dict, copied: list[dict]) -> dict:
    """Files the database names that the source does not have: learn it before the switch."""
    params = _params()
    if not params["check_database"]:
        return {"skipped": "check_database is off"}
    source, _ = _stores(params)
    return filecheck.named_but_missing(connections.dify_database(current_settings().conn_id), source, params["prefixes"])


@task
@fail_fast
def update_storage_type(checked: dict) -> dict:
    params = _params()
    if params["dry_run"] or not params.get("set_storage_type"):
        return {"updated": 0, "note": "not asked" if not params.get("set_storage_type") else "dry run"}
    updated = filecheck.set_storage_type(connections.dify_database(current_settings().conn_id), params["set_storage_type"])
    return {"updated": updated}


@task(trigger_rule=TriggerRule.ALL_DONE)
@fail_fast
def report() -> dict:
    ti = get_current_context()["ti"]
    inv = ti.xcom_pull(task_ids="inventory") or {}
    copies = [c for c in (ti.xcom_pull(task_ids="copy") or []) if c]
    checked = ti.xcom_pull(task_ids="check_database") or {}
    updated = ti.xcom_pull(task_ids="update_storage_type")
    rep, lines = migration.run_report(inv, copies, checked, updated)
    end_run("Dify storage migration", rep, lines, began=False, create_schema=True)
    return {k: v for k, v in rep.items() if k not in ("run_key", "dag_id", "errors", "error", "outcome")}
