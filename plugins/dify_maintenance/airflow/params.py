"""Trigger-form Params. In the retention form every value defaults to null, meaning "use the
deployment policy", and each field says what that is; JSON-schema validation rejects bad input
before a run starts. A run's conf may hold only these fields (``forms.check_conf``)."""

from __future__ import annotations

from airflow.sdk import Param

from dify_maintenance.core.catalog import FAMILY_NAMES
from dify_maintenance.core.policy import MAX_BATCH, MAX_DAYS, MIN_BATCH, MIN_DAYS, POLICY_VARIABLE, UUID_RE, load_defaults

_UUID_LIST = {"type": ["null", "array"], "items": {"type": "string", "pattern": UUID_RE.pattern}}
_POLICY_DEFAULTS = load_defaults()
DEFAULT_CONN_ID = _POLICY_DEFAULTS["conn_id"]


def _from_policy(key: str, what: str = "") -> str:
    """The description of a field whose empty value means "the deployment's policy"."""
    value = _POLICY_DEFAULTS[key]
    shown = {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else (value or "none")
    if isinstance(shown, list):
        shown = ", ".join(shown) or "none"
    return (
        (what + " " if what else "")
        + f"Empty: the deployment policy, {shown}{' days' if key.endswith('_days') else ''} by default "
        f"(include/retention_policy.json) unless the Airflow Variable {POLICY_VARIABLE} sets another."
    )


def _scope(by_default: str) -> str:
    return f"UUIDs, one per line. Empty: the deployment policy's list ({by_default} unless {POLICY_VARIABLE} names some)."


def _keep_days(key: str, title: str, what: str) -> Param:
    """A "keep N days" field of the retention form; empty means the policy's days."""
    return Param(
        None,
        title=title,
        type=["null", "integer"],
        minimum=MIN_DAYS,
        maximum=MAX_DAYS,
        section="Retention",
        description=_from_policy(key, what),
    )


def retention_params() -> dict[str, Param]:
    return {
        "workflow_logs_days": _keep_days(
            "workflow_logs_days",
            "Keep workflow logs (days)",
            "Ended workflow runs and their node executions, app logs, offloads.",
        ),
        "messages_days": _keep_days(
            "messages_days",
            "Keep messages and conversations (days)",
            "Messages with their children; conversations with no message left.",
        ),
        "end_users_days": _keep_days(
            "end_users_days", "Keep unreferenced end users (days)", "Only end users nothing remaining refers to."
        ),
        "families": Param(
            None,
            title="Table families",
            type=["null", "array"],
            items={"type": "string", "enum": list(FAMILY_NAMES)},
            examples=list(FAMILY_NAMES),
            section="Scope",
            description=_from_policy("families"),
        ),
        "tenant_ids": Param(None, title="Only these tenants", section="Scope", description=_scope("every tenant"), **_UUID_LIST),
        "exclude_tenant_ids": Param(
            None, title="Never these tenants", section="Scope", description=_scope("none excluded"), **_UUID_LIST
        ),
        "app_ids": Param(None, title="Only these apps", section="Scope", description=_scope("every app"), **_UUID_LIST),
        "exclude_app_ids": Param(
            None, title="Never these apps", section="Scope", description=_scope("none excluded"), **_UUID_LIST
        ),
        "batch_size": Param(
            None,
            title="Root rows per batch",
            type=["null", "integer"],
            minimum=MIN_BATCH,
            maximum=MAX_BATCH,
            section="Execution",
            description=_from_policy("batch_size", "A start: the size adapts toward the policy's batch_target_seconds."),
        ),
        "dry_run": Param(
            None,
            title="Dry run (count only)",
            type=["null", "boolean"],
            section="Execution",
            description=_from_policy("dry_run", "Counts what a real run would delete and changes nothing.")
            + " With first_run_dry_run (on by default) the first run on a database is a dry run unless this says off.",
        ),
        "archive": Param(
            None,
            title="Archive before delete",
            type=["null", "boolean"],
            section="Execution",
            description=_from_policy("archive", "Turning this off deletes without a way back; only do it on purpose."),
        ),
        "keep_curated": Param(
            None,
            title="Keep saved messages and annotations",
            type=["null", "boolean"],
            section="Execution",
            description=_from_policy("keep_curated"),
        ),
        "build_missing_indexes": Param(
            None,
            title="Build missing supporting indexes",
            type=["null", "boolean"],
            section="Execution",
            description=_from_policy(
                "build_missing_indexes",
                "CREATE INDEX CONCURRENTLY where a lookup on a big table has no index; dropped after the run.",
            ),
        ),
        "keep_built_indexes": Param(
            None,
            title="Keep the indexes built for this run",
            type=["null", "boolean"],
            section="Execution",
            description=_from_policy("keep_built_indexes"),
        ),
        "collect_files": Param(
            None,
            title="Afterwards collect the files only purged rows referenced",
            type=["null", "boolean"],
            section="Files",
            description=_from_policy(
                "collect_files",
                "Runs the orphaned-files check (grace period, quarantine) for files created before the cutoff; "
                "Dify's storage comes from the connection dify_storage.",
            ),
        ),
    }


def pre_upgrade_params() -> dict[str, Param]:
    """The trigger form of ``dify_pre_upgrade_cleanup``; defaults make a harmless dry run."""
    from dify_maintenance.database.backup import SCOPES
    from dify_maintenance.database.reclaim import STRATEGIES
    from dify_maintenance.database.upgrade_impact import known_targets

    targets = known_targets()
    return {
        "keep_days": Param(30, title="Keep logs (days)", type="integer", minimum=MIN_DAYS, maximum=MAX_DAYS, section="Retention"),
        "archive": Param(
            False,
            title="Also archive deleted rows",
            type="boolean",
            section="Retention",
            description="The verified backup already protects them; the archive makes single rows easy to restore.",
        ),
        "target_version": Param(targets[-1], title="Target Dify version", type="string", enum=targets, section="Upgrade"),
        "target_schema": Param(
            None,
            title="Target schema (optional)",
            type=["null", "string"],
            section="Upgrade",
            description="Path on the worker to a pg_dump -s file of the target version, or a saved snapshot .json.",
        ),
        "backup_scope": Param(
            "full",
            title="Backup scope",
            type="string",
            enum=list(SCOPES),
            values_display={"full": "Everything", "no_log_data": "All but the data of the log tables", "tables": "Chosen tables"},
            section="Backup",
        ),
        "backup_tables": Param([], title="Tables", type="array", items={"type": "string"}, section="Backup"),
        "restore_check": Param(
            False, title="Restore into a scratch database and compare row counts", type="boolean", section="Backup"
        ),
        "skip_backup": Param(
            False,
            title="Skip the backup",
            type="boolean",
            section="Backup",
            description="Only if you have one already: without it nothing protects the deleted rows (unless archive is on).",
        ),
        "reclaim_strategy": Param(
            "auto",
            title="Space reclamation",
            type="string",
            enum=list(STRATEGIES),
            values_display={
                "auto": "Choose per table",
                "vacuum": "VACUUM (online, no space returned)",
                "vacuum_full": "VACUUM FULL (blocks reads and writes)",
                "repack": "pg_repack (online, needs the extension)",
                "rebuild": "Copy kept rows and swap (blocks writes)",
            },
            section="Reclaim",
        ),
        "reclaim_min_mb": Param(
            64, title="Rewrite only tables with at least this many MB to gain", type="integer", minimum=0, section="Reclaim"
        ),
        "disk_check": Param(True, title="Check free disk before VACUUM FULL", type="boolean", section="Reclaim"),
        "dry_run": Param(True, title="Dry run (measure and plan only)", type="boolean", section="Safety"),
        "confirm_database": Param(
            None,
            title="Type the database name to allow a real run",
            type=["null", "string"],
            section="Safety",
            description="Leave empty for a dry run. With dry run off it must equal the name of the Dify database "
            f"(the Schema field of the Airflow connection {DEFAULT_CONN_ID}); a dry run's report prints the name to type.",
        ),
    }


def backup_params() -> dict[str, Param]:
    from dify_maintenance.database.backup import COMPRESSIONS, SCOPES

    return {
        "scope": Param("full", title="Scope", type="string", enum=list(SCOPES), section="Backup"),
        "tables": Param([], title="Tables (scope: tables)", type="array", items={"type": "string"}, section="Backup"),
        "jobs": Param(2, title="Parallel dump jobs", type="integer", minimum=1, maximum=32, section="Backup"),
        "compression": Param("auto", title="Compression", type="string", enum=list(COMPRESSIONS), section="Backup"),
        "restore_check": Param(False, title="Restore check into a scratch database", type="boolean", section="Verify"),
        "keep_count": Param(7, title="Backups to keep", type="integer", minimum=1, maximum=1000, section="Rotation"),
        "keep_days": Param(30, title="Max backup age (days)", type="integer", minimum=1, maximum=3650, section="Rotation"),
    }


def storage_migration_params() -> dict[str, Param]:
    from dify_maintenance.files.dify_storage import DIFY_PREFIXES
    from dify_maintenance.files.migration import OVERWRITE, VERIFY

    optional = {"type": ["null", "string"]}
    return {
        "source_conn_id": Param(None, title="Source: Airflow connection", section="Source", **optional),
        "source_dify_env": Param(None, title="Source: path of Dify's .env", section="Source", **optional),
        "target_conn_id": Param(None, title="Target: Airflow connection", section="Target", **optional),
        "target_dify_env": Param(None, title="Target: path of Dify's .env", section="Target", **optional),
        "prefixes": Param(
            list(DIFY_PREFIXES),
            title="Key prefixes",
            type="array",
            items={"type": "string"},
            section="Scope",
            description="All of Dify's by default, privkeys/ included: without it no stored model credential can be decrypted.",
        ),
        "modified_since": Param(
            None, title="Delta pass: only objects modified since", type=["null", "string"], format="date-time", section="Scope"
        ),
        "dry_run": Param(True, title="Dry run (inventory and checks only)", type="boolean", section="Execution"),
        "shards": Param(8, title="Parallel copy tasks", type="integer", minimum=1, maximum=256, section="Execution"),
        "concurrency": Param(8, title="Copies in flight per task", type="integer", minimum=1, maximum=128, section="Execution"),
        "overwrite": Param(
            "if_different", title="Objects already in the target", type="string", enum=list(OVERWRITE), section="Execution"
        ),
        "verify": Param("checksum", title="Verification", type="string", enum=list(VERIFY), section="Execution"),
        "verification_pass": Param(
            False,
            title="Re-verify every object already copied",
            type="boolean",
            section="Execution",
            description="Before the cut-over: compare every target object with the source again, and repair what differs.",
        ),
        "check_database": Param(
            True, title="Report files the database names but the source lacks", type="boolean", section="Database"
        ),
        "set_storage_type": Param(
            None,
            title="Afterwards set upload_files.storage_type to",
            type=["null", "string"],
            section="Database",
            description="Only after every object was copied and verified.",
        ),
    }


def _dify_storage_params() -> dict[str, Param]:
    optional = {"type": ["null", "string"]}
    return {
        "storage_conn_id": Param(
            "dify_storage",
            title="Dify storage: Airflow connection",
            section="Storage",
            description="OpenDAL scheme and options in the extra; ignored when a Dify .env is given.",
            **optional,
        ),
        "dify_env": Param(None, title="Dify storage: path of Dify's .env", section="Storage", **optional),
    }


def orphan_params() -> dict[str, Param]:
    from dify_maintenance.files.orphans import DEFAULT_PREFIXES, SCANNABLE_PREFIXES

    return {
        "grace_days": Param(
            7,
            title="Grace period (days)",
            type="integer",
            minimum=1,
            maximum=3650,
            section="Scope",
            description="Rows and objects younger than this are never candidates (uploads still in flight).",
        ),
        "prefixes": Param(
            list(DEFAULT_PREFIXES),
            title="Key prefixes to scan",
            type="array",
            items={"type": "string", "enum": list(SCANNABLE_PREFIXES)},
            section="Scope",
            description="privkeys/ and .dify_secret_key are never scanned or touched.",
        ),
        "created_before": Param(
            None,
            title="Only files created before",
            type=["null", "string"],
            format="date-time",
            section="Scope",
            description="For example a retention run's cutoff: collect only what the purged rows referenced.",
        ),
        **_dify_storage_params(),
        "dry_run": Param(True, title="Dry run (report and CSV only)", type="boolean", section="Safety"),
        "archive": Param(True, title="Archive rows before deleting them", type="boolean", section="Safety"),
        "quarantine_days": Param(
            30, title="Empty quarantines older than (days)", type="integer", minimum=1, maximum=3650, section="Safety"
        ),
        "batch_size": Param(1000, title="Rows or objects per batch", type="integer", minimum=1, maximum=50000, section="Tuning"),
        "slice_pages": Param(
            8192, title="Heap pages per reference-scan statement", type="integer", minimum=1, maximum=10_000_000, section="Tuning"
        ),
    }


def restore_quarantine_params() -> dict[str, Param]:
    return {
        "quarantine_id": Param("", title="Quarantine id (from the orphaned-files report)", type="string", minLength=1),
        "restore_rows": Param(True, title="Also re-insert the archived database rows", type="boolean"),
        **_dify_storage_params(),
    }
