"""The trigger forms of the database DAGs (backup, the pre-upgrade cleanup) with the choices they
offer."""

from __future__ import annotations

from dify_maintenance.core.forms import Field, Form
from dify_maintenance.core.policy import CONFIRM_DATABASE_FIELD, MAX_DAYS, MIN_DAYS
from dify_maintenance.database import reclaim
from dify_maintenance.database import upgrade_impact as upgrade

SCOPES = ("full", "no_log_data", "tables")


COMPRESSIONS = ("auto", "zstd", "lz4", "gzip", "none")


# The trigger form of dify_backup.
BACKUP_FORM = Form(
    "dify_backup",
    (
        Field("scope", "Scope", "string", "full", "Backup", enum=SCOPES),
        Field("tables", "Tables (scope: tables)", "array", [], "Backup", items={"type": "string"}),
        Field("jobs", "Parallel dump jobs", "integer", 2, "Backup", minimum=1, maximum=32),
        Field("compression", "Compression", "string", "auto", "Backup", enum=COMPRESSIONS),
        Field("restore_check", "Restore check into a scratch database", "boolean", False, "Verify"),
        Field("keep_count", "Backups to keep", "integer", 7, "Rotation", minimum=1, maximum=1000),
        Field("keep_days", "Max backup age (days)", "integer", 30, "Rotation", minimum=1, maximum=3650),
    ),
)


# The trigger form of dify_pre_upgrade_cleanup; its defaults make a harmless dry run.
PRE_UPGRADE_FORM = Form(
    "dify_pre_upgrade_cleanup",
    (
        Field("keep_days", "Keep logs (days)", "integer", 30, "Retention", minimum=MIN_DAYS, maximum=MAX_DAYS),
        Field(
            "archive",
            "Also archive deleted rows",
            "boolean",
            False,
            "Retention",
            "The verified backup already protects them; the archive makes single rows easy to restore.",
        ),
        Field(
            "target_version",
            "Target Dify version",
            "string",
            upgrade.known_targets()[-1],
            "Upgrade",
            enum=tuple(upgrade.known_targets()),
        ),
        Field(
            "target_schema",
            "Target schema (optional)",
            "string",
            None,
            "Upgrade",
            "Path on the worker to a pg_dump -s file of the target version, or a saved snapshot .json.",
            nullable=True,
        ),
        Field(
            "backup_scope",
            "Backup scope",
            "string",
            "full",
            "Backup",
            enum=SCOPES,
            values_display={"full": "Everything", "no_log_data": "All but the data of the log tables", "tables": "Chosen tables"},
        ),
        Field("backup_tables", "Tables", "array", [], "Backup", items={"type": "string"}),
        Field("restore_check", "Restore into a scratch database and compare row counts", "boolean", False, "Backup"),
        Field(
            "skip_backup",
            "Skip the backup",
            "boolean",
            False,
            "Backup",
            "Only if you have one already: without it nothing protects the deleted rows (unless archive is on).",
        ),
        Field(
            "reclaim_strategy",
            "Space reclamation",
            "string",
            "auto",
            "Reclaim",
            enum=reclaim.STRATEGIES,
            values_display={
                "auto": "Choose per table",
                "vacuum": "VACUUM (online, no space returned)",
                "vacuum_full": "VACUUM FULL (blocks reads and writes)",
                "repack": "pg_repack (online, needs the extension)",
                "rebuild": "Copy kept rows and swap (blocks writes)",
            },
        ),
        Field("reclaim_min_mb", "Rewrite only tables with at least this many MB to gain", "integer", 64, "Reclaim", minimum=0),
        Field("disk_check", "Check free disk before VACUUM FULL", "boolean", True, "Reclaim"),
        Field("dry_run", "Dry run (measure and plan only)", "boolean", True, "Safety"),
        CONFIRM_DATABASE_FIELD,
    ),
)
