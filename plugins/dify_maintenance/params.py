"""Trigger-form Params. Every value defaults to null, meaning "use the deployment policy";
JSON-schema validation rejects bad input before a run starts."""

from __future__ import annotations

from airflow.sdk import Param

from dify_maintenance.catalog import FAMILY_NAMES
from dify_maintenance.policy import MAX_BATCH, MAX_DAYS, MIN_BATCH, MIN_DAYS, UUID_RE

_UUID_LIST = {"type": ["null", "array"], "items": {"type": "string", "pattern": UUID_RE.pattern}}


def retention_params() -> dict[str, Param]:
    days = {"type": ["null", "integer"], "minimum": MIN_DAYS, "maximum": MAX_DAYS}
    return {
        "workflow_logs_days": Param(None, title="Keep workflow logs (days)", section="Retention", **days),
        "messages_days": Param(None, title="Keep messages and conversations (days)", section="Retention", **days),
        "end_users_days": Param(None, title="Keep unreferenced end users (days)", section="Retention", **days),
        "families": Param(
            None,
            title="Table families",
            type=["null", "array"],
            items={"type": "string", "enum": list(FAMILY_NAMES)},
            examples=list(FAMILY_NAMES),
            section="Scope",
        ),
        "tenant_ids": Param(None, title="Only these tenants", section="Scope", **_UUID_LIST),
        "exclude_tenant_ids": Param(None, title="Never these tenants", section="Scope", **_UUID_LIST),
        "app_ids": Param(None, title="Only these apps", section="Scope", **_UUID_LIST),
        "exclude_app_ids": Param(None, title="Never these apps", section="Scope", **_UUID_LIST),
        "batch_size": Param(
            None, title="Root rows per batch", type=["null", "integer"], minimum=MIN_BATCH, maximum=MAX_BATCH, section="Execution"
        ),
        "dry_run": Param(None, title="Dry run (count only)", type=["null", "boolean"], section="Execution"),
        "archive": Param(
            None,
            title="Archive before delete",
            type=["null", "boolean"],
            section="Execution",
            description="Turning this off deletes without a way back; only do it on purpose.",
        ),
        "keep_curated": Param(None, title="Keep saved messages and annotations", type=["null", "boolean"], section="Execution"),
        "build_missing_indexes": Param(
            None,
            title="Build missing supporting indexes",
            type=["null", "boolean"],
            section="Execution",
            description="CREATE INDEX CONCURRENTLY where a lookup on a big table has no index; dropped after the run.",
        ),
        "keep_built_indexes": Param(
            None, title="Keep the indexes built for this run", type=["null", "boolean"], section="Execution"
        ),
    }
