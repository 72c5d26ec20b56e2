"""The trigger forms of the file DAGs (orphaned files, the quarantine's restore, the storage
migration) with the choices they offer."""

from __future__ import annotations

from dify_maintenance.core.forms import Field, Form
from dify_maintenance.storage.dify_storage import DIFY_PREFIXES, PROTECTED_PREFIXES, STORAGE_FIELDS

# Prefixes whose objects Dify's rows name; privkeys/ is never scanned (nothing names those keys).
SCANNABLE_PREFIXES = tuple(p for p in DIFY_PREFIXES if p not in PROTECTED_PREFIXES)


DEFAULT_PREFIXES = ("upload_files/", "image_files/", "tools/", "datasources/")


# The trigger form of dify_orphaned_files (scheduled runs: the Variable dify_maintenance_orphans
# sets the same fields); a dry run by default.
ORPHANS_FORM = Form(
    "dify_orphaned_files",
    (
        Field(
            "grace_days",
            "Grace period (days)",
            "integer",
            7,
            "Scope",
            "Rows and objects younger than this are never candidates (uploads still in flight).",
            minimum=1,
            maximum=3650,
        ),
        Field(
            "prefixes",
            "Key prefixes to scan",
            "array",
            list(DEFAULT_PREFIXES),
            "Scope",
            "privkeys/ and .dify_secret_key are never scanned or touched.",
            items={"type": "string", "enum": list(SCANNABLE_PREFIXES)},
            min_items=1,
        ),
        Field(
            "created_before",
            "Only files created before",
            "string",
            None,
            "Scope",
            "For example a retention run's cutoff: collect only what the purged rows referenced.",
            nullable=True,
            format="date-time",
        ),
        *STORAGE_FIELDS,
        Field("dry_run", "Dry run (report and CSV only)", "boolean", True, "Safety"),
        Field("archive", "Archive rows before deleting them", "boolean", True, "Safety"),
        Field("quarantine_days", "Empty quarantines older than (days)", "integer", 30, "Safety", minimum=1, maximum=3650),
        Field("batch_size", "Rows or objects per batch", "integer", 1000, "Tuning", minimum=1, maximum=50000),
        Field("slice_pages", "Heap pages per reference-scan statement", "integer", 8192, "Tuning", minimum=1, maximum=10_000_000),
    ),
)


# The trigger form of dify_restore_quarantine: which quarantine to undo (its id is in the report).
RESTORE_QUARANTINE_FORM = Form(
    "dify_restore_quarantine",
    (
        Field("quarantine_id", "Quarantine id (from the orphaned-files report)", "string", None, min_length=1),
        Field("restore_rows", "Also re-insert the archived database rows", "boolean", True),
        *STORAGE_FIELDS,
    ),
)


OVERWRITE = ("if_different", "always", "never")


VERIFY = ("checksum", "size")


# The trigger form of dify_storage_migration; dry run by default.
MIGRATION_FORM = Form(
    "dify_storage_migration",
    (
        Field("source_conn_id", "Source: Airflow connection", "string", None, "Source", nullable=True),
        Field("source_dify_env", "Source: path of Dify's .env", "string", None, "Source", nullable=True),
        Field("target_conn_id", "Target: Airflow connection", "string", None, "Target", nullable=True),
        Field("target_dify_env", "Target: path of Dify's .env", "string", None, "Target", nullable=True),
        Field(
            "prefixes",
            "Key prefixes",
            "array",
            list(DIFY_PREFIXES),
            "Scope",
            "All of Dify's by default, privkeys/ included: without it no stored model credential can be decrypted.",
            items={"type": "string"},
        ),
        Field(
            "modified_since",
            "Delta pass: only objects modified since",
            "string",
            None,
            "Scope",
            nullable=True,
            format="date-time",
        ),
        Field("dry_run", "Dry run (inventory and checks only)", "boolean", True, "Execution"),
        Field("shards", "Parallel copy tasks", "integer", 8, "Execution", minimum=1, maximum=256),
        Field("concurrency", "Copies in flight per task", "integer", 8, "Execution", minimum=1, maximum=128),
        Field("overwrite", "Objects already in the target", "string", "if_different", "Execution", enum=OVERWRITE),
        Field("verify", "Verification", "string", "checksum", "Execution", enum=VERIFY),
        Field(
            "verification_pass",
            "Re-verify every object already copied",
            "boolean",
            False,
            "Execution",
            "Before the cut-over: compare every target object with the source again, and repair what differs.",
        ),
        Field("check_database", "Report files the database names but the source lacks", "boolean", True, "Database"),
        Field(
            "set_storage_type",
            "Afterwards set upload_files.storage_type to",
            "string",
            None,
            "Database",
            "Only after every object was copied and verified.",
            nullable=True,
        ),
    ),
)
