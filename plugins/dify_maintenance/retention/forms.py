"""The trigger forms of the retention DAGs: the weekly retention (each field empty by default,
meaning the deployment's policy, which its description names) and the archive's restore."""

from __future__ import annotations

from dify_maintenance.core.catalog import FAMILY_NAMES
from dify_maintenance.core.forms import Field, Form
from dify_maintenance.core.policy import (
    MAX_BATCH,
    MAX_DAYS,
    MESSAGES_SCOPES,
    MIN_BATCH,
    MIN_DAYS,
    POLICY_VARIABLE,
    UUID_RE,
    load_defaults,
)


def _from_policy(key: str, what: str = "") -> str:
    """The description of a field whose empty value means "the deployment's policy"."""
    value = load_defaults()[key]
    shown = {True: "on", False: "off"}.get(value, value) if isinstance(value, bool) else (value or "none")
    if isinstance(shown, list):
        shown = ", ".join(shown) or "none"
    return (
        (what + " " if what else "")
        + f"Empty: the deployment policy, {shown}{' days' if key.endswith('_days') else ''} by default "
        f"(resources/retention_policy.json) unless the Airflow Variable {POLICY_VARIABLE} sets another."
    )


def _option(name: str, title: str, kind: str, section: str, what: str = "", **bounds) -> Field:
    """A retention form field: empty (None) means the policy's value, which its description names."""
    return Field(name, title, kind, None, section, _from_policy(name, what), nullable=True, **bounds)


def _ids(name: str, title: str, by_default: str) -> Field:
    return Field(
        name,
        title,
        "array",
        None,
        "Scope",
        f"UUIDs, one per line. Empty: the deployment policy's list ({by_default} unless {POLICY_VARIABLE} names some).",
        nullable=True,
        items={"type": "string", "pattern": UUID_RE.pattern},
    )


_DAYS = {"minimum": MIN_DAYS, "maximum": MAX_DAYS}


# What a run of dify_retention may set; every other policy key is the deployment's.
RETENTION_FORM = Form(
    "dify_retention",
    (
        _option(
            "workflow_logs_days",
            "Keep workflow logs (days)",
            "integer",
            "Retention",
            "Ended workflow runs and their node executions, app logs, offloads.",
            **_DAYS,
        ),
        _option(
            "messages_days",
            "Keep messages and conversations (days)",
            "integer",
            "Retention",
            "Messages with their children; conversations with no message left.",
            **_DAYS,
        ),
        _option(
            "end_users_days",
            "Keep unreferenced end users (days)",
            "integer",
            "Retention",
            "Only end users nothing remaining refers to.",
            **_DAYS,
        ),
        _option(
            "families",
            "Table families",
            "array",
            "Scope",
            items={"type": "string", "enum": list(FAMILY_NAMES)},
            examples=FAMILY_NAMES,
        ),
        _ids("tenant_ids", "Only these tenants", "every tenant"),
        _ids("exclude_tenant_ids", "Never these tenants", "none excluded"),
        _ids("app_ids", "Only these apps", "every app"),
        _ids("exclude_app_ids", "Never these apps", "none excluded"),
        _option(
            "batch_size",
            "Root rows per batch",
            "integer",
            "Execution",
            "A start: the size adapts toward the policy's batch_target_seconds.",
            minimum=MIN_BATCH,
            maximum=MAX_BATCH,
        ),
        Field(
            "dry_run",
            "Dry run (count only)",
            "boolean",
            None,
            "Execution",
            _from_policy("dry_run", "Counts what a real run would delete and changes nothing.")
            + " With first_run_dry_run (on by default) the first run on a database is a dry run unless this says off.",
            nullable=True,
        ),
        _option(
            "archive",
            "Archive before delete",
            "boolean",
            "Execution",
            "Turning this off deletes without a way back; only do it on purpose.",
        ),
        _option("keep_curated", "Keep saved messages and annotations", "boolean", "Execution"),
        _option(
            "messages_scope",
            "Messages expire",
            "string",
            "Retention",
            "message: each by its own age (as Dify's own cleanup); conversation: a conversation's messages stay "
            "while any of them is newer than the cutoff.",
            enum=list(MESSAGES_SCOPES),
        ),
        _option(
            "build_missing_indexes",
            "Build missing supporting indexes",
            "boolean",
            "Execution",
            "CREATE INDEX CONCURRENTLY (dm_idx_*, partial) where a lookup on a big table has no index; "
            "off: such a family is deferred and the report names the index.",
        ),
        _option(
            "keep_built_indexes",
            "Keep the indexes built by the purge",
            "boolean",
            "Execution",
            "Off: each run drops the dm_idx_* indexes at its end (and builds them again when needed).",
        ),
        _option(
            "collect_files",
            "Afterwards collect the files only purged rows referenced",
            "boolean",
            "Files",
            "Runs the orphaned-files check (grace period, quarantine) for files created before the cutoff; "
            "Dify's storage comes from the connection dify_storage.",
        ),
    ),
)


# The trigger form of dify_restore_archive: which archived run (or part of it) to put back.
RESTORE_ARCHIVE_FORM = Form(
    "dify_restore_archive",
    (
        Field("archive_prefix", "Archive prefix to restore", "string", None, pattern="^retention/[A-Za-z0-9._=/-]+$"),
        Field("tables", "Only these tables (empty: all)", "array", None, nullable=True, items={"type": "string"}),
        Field("use_defaults", "Ignore the deployment settings Variable (default connections)", "boolean", False),
    ),
)
