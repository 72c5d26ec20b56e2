"""The retention policy: defaults from ``resources/retention_policy.json``, overridden per
deployment (Airflow Variable ``dify_maintenance_policy``) and per run (Params), then validated.

Validation happens before anything connects to Dify, so bad input never deletes a row.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from dify_maintenance.core import settings
from dify_maintenance.core.catalog import FAMILY_NAMES, family
from dify_maintenance.core.errors import InvalidPolicy
from dify_maintenance.core.forms import Field

POLICY_VARIABLE = settings.VARIABLE
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

MIN_DAYS, MAX_DAYS = 1, 3650
MIN_BATCH, MAX_BATCH = 10, 50_000
MESSAGES_SCOPES = ("message", "conversation")
_ID_LISTS = ("tenant_ids", "exclude_tenant_ids", "app_ids", "exclude_app_ids")


@dataclass(frozen=True)
class Policy:
    workflow_logs_days: int
    messages_days: int
    end_users_days: int
    families: tuple[str, ...]
    batch_size: int
    dry_run: bool
    archive: bool
    keep_curated: bool
    tenant_ids: tuple[str, ...] = ()
    exclude_tenant_ids: tuple[str, ...] = ()
    app_ids: tuple[str, ...] = ()
    exclude_app_ids: tuple[str, ...] = ()
    statement_timeout_ms: int = 30_000
    lock_timeout_ms: int = 2_000
    lock_retries: int = 5
    time_budget_minutes: int = 360
    max_transaction_age_seconds: int = 900
    max_replication_lag_seconds: int = 60
    max_wal_ready_files: int = 42
    # transactions a replication slot's xmin may lag behind before the purge waits
    max_slot_xmin_age: int = 1_000_000
    health_pause_seconds: int = 10
    health_max_wait_seconds: int = 600
    batch_target_seconds: float = 0.5
    # a batch that archived more than this is followed by one sized down to it (memory by bytes)
    batch_target_mb: int = 64
    adaptive_batches: bool = True
    build_missing_indexes: bool = True
    keep_built_indexes: bool = True
    unindexed_lookup_max_mb: int = 10
    collect_files: bool = False
    # "message": each message by its own age (as Dify's own cleanup); "conversation": every message
    # of a conversation stays while any of its messages is newer than the cutoff
    messages_scope: str = "message"
    first_run_dry_run: bool = True
    # a Dify newer than the newest version this package knows: run with the drift in the report
    # (the default, unless an unknown column names a purged table), or stop
    stop_on_unknown_version: bool = False
    storage_conn_id: str = "dify_storage"
    archive_conn_id: str = "dify_archive"
    conn_id: str = "dify_db"
    notes: tuple[str, ...] = field(default=(), compare=False)

    def days_for(self, family_name: str) -> int:
        return int(getattr(self, family(family_name).retention_key))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key, value in data.items():
            if isinstance(value, tuple):
                data[key] = list(value)
        return data


def load_defaults() -> dict[str, Any]:
    """Every key of the defaults file (the settings' keys among them)."""
    return settings.file_defaults()


def merge(*layers: dict[str, Any] | None) -> dict[str, Any]:
    """Later layers win; ``None`` values mean "not set here" (Params default to None)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if value is not None and not key.startswith("_"):
                merged[key] = value
    return merged


def _int(data: dict, key: str, low: int, high: int, errors: list[str]) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append(f"{key} must be a whole number, got {value!r}")
        return low
    if not low <= value <= high:
        errors.append(f"{key} must be between {low} and {high}, got {value}")
    return value


def _bool(data: dict, key: str, errors: list[str]) -> bool:
    value = data.get(key)
    if not isinstance(value, bool):
        errors.append(f"{key} must be true or false, got {value!r}")
        return False
    return value


def validate(data: dict[str, Any]) -> Policy:
    """Turn merged settings into a Policy, listing every problem at once."""
    errors: list[str] = []
    known = set(load_defaults())
    unknown = sorted(set(data) - known)
    for key in unknown:
        meant = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
        errors.append(
            f"unknown policy key {key!r}"
            + (f" (did you mean {meant[0]!r}?)" if meant else " (the keys are those of retention_policy.json)")
        )
    days = {k: _int(data, k, MIN_DAYS, MAX_DAYS, errors) for k in ("workflow_logs_days", "messages_days", "end_users_days")}
    batch_size = _int(data, "batch_size", MIN_BATCH, MAX_BATCH, errors)
    statement_timeout = _int(data, "statement_timeout_ms", 100, 3_600_000, errors)
    lock_timeout = _int(data, "lock_timeout_ms", 10, 600_000, errors)
    lock_retries = _int(data, "lock_retries", 0, 100, errors)
    time_budget = _int(data, "time_budget_minutes", 0, 7 * 24 * 60, errors)
    health = {
        "max_transaction_age_seconds": _int(data, "max_transaction_age_seconds", 1, 86_400, errors),
        "max_replication_lag_seconds": _int(data, "max_replication_lag_seconds", 1, 86_400, errors),
        "max_wal_ready_files": _int(data, "max_wal_ready_files", 1, 100_000, errors),
        "max_slot_xmin_age": _int(data, "max_slot_xmin_age", 1, 2_000_000_000, errors),
        "health_pause_seconds": _int(data, "health_pause_seconds", 1, 3_600, errors),
        "health_max_wait_seconds": _int(data, "health_max_wait_seconds", 0, 86_400, errors),
    }
    flags = {
        k: _bool(data, k, errors)
        for k in (
            "dry_run",
            "archive",
            "keep_curated",
            "adaptive_batches",
            "build_missing_indexes",
            "keep_built_indexes",
            "collect_files",
            "first_run_dry_run",
            "stop_on_unknown_version",
        )
    }
    unindexed_limit = _int(data, "unindexed_lookup_max_mb", 0, 10_000_000, errors)
    batch_target_mb = _int(data, "batch_target_mb", 1, 100_000, errors)
    messages_scope = data.get("messages_scope")
    if messages_scope not in MESSAGES_SCOPES:
        errors.append(f"messages_scope must be one of {', '.join(MESSAGES_SCOPES)}, got {messages_scope!r}")
    target = data.get("batch_target_seconds")
    if isinstance(target, bool) or not isinstance(target, int | float) or not 0.001 <= target <= 60:
        errors.append(f"batch_target_seconds must be a number of seconds between 0.001 and 60, got {target!r}")
        target = 0.5

    families = data.get("families")
    if not isinstance(families, list) or not families or not all(isinstance(f, str) for f in families):
        errors.append(f"families must be a non-empty list of names, got {families!r}")
        families = []
    bad = [f for f in families if f not in FAMILY_NAMES]
    if bad:
        errors.append(f"unknown table family {', '.join(map(repr, bad))}; known families: {', '.join(FAMILY_NAMES)}")

    ids: dict[str, tuple[str, ...]] = {}
    for key in _ID_LISTS:
        value = data.get(key, [])
        if not isinstance(value, list):
            errors.append(f"{key} must be a list of UUIDs, got {value!r}")
            value = []
        malformed = [v for v in value if not isinstance(v, str) or not UUID_RE.match(v)]
        if malformed:
            errors.append(f"{key} holds malformed ids: {', '.join(map(repr, malformed[:5]))}")
        ids[key] = tuple(sorted({v.lower() for v in value if isinstance(v, str) and UUID_RE.match(v)}))
    for inc, exc in (("tenant_ids", "exclude_tenant_ids"), ("app_ids", "exclude_app_ids")):
        both = set(ids[inc]) & set(ids[exc])
        if both:
            errors.append(f"ids both in {inc} and {exc}: {', '.join(sorted(both))}")

    for key in ("archive_conn_id", "conn_id", "storage_conn_id"):
        if not isinstance(data.get(key), str) or not data.get(key):
            errors.append(f"{key} must be a non-empty connection id")
    if errors:
        raise InvalidPolicy("invalid retention policy: " + "; ".join(errors))

    ordered = tuple(name for name in FAMILY_NAMES if name in families)
    return Policy(
        **days,
        families=ordered,
        batch_size=batch_size,
        **flags,
        **ids,
        statement_timeout_ms=statement_timeout,
        lock_timeout_ms=lock_timeout,
        lock_retries=lock_retries,
        time_budget_minutes=time_budget,
        batch_target_seconds=float(target),
        unindexed_lookup_max_mb=unindexed_limit,
        batch_target_mb=batch_target_mb,
        messages_scope=messages_scope if messages_scope in MESSAGES_SCOPES else "message",
        **health,
        archive_conn_id=data["archive_conn_id"],
        conn_id=data["conn_id"],
        storage_conn_id=data["storage_conn_id"],
    )


def resolve(variable_json: str | dict | None, params: dict[str, Any] | None) -> Policy:
    """Defaults, then the deployment Variable, then this run's Params."""
    variable = settings.parse_variable(variable_json)
    run_layer = {k: v for k, v in (params or {}).items() if k in load_defaults()}
    return validate(merge(load_defaults(), variable, run_layer))


def from_dict(data: dict[str, Any]) -> Policy:
    """Rebuild a Policy recorded at preflight (a retry must use the policy of the first try)."""
    return validate({k: v for k, v in data.items() if k != "notes"})


# The typed confirmation of every form whose real run deletes (pre-upgrade cleanup, cleanup-pg).
CONFIRM_DATABASE_FIELD = Field(
    "confirm_database",
    "Type the database name to allow a real run",
    "string",
    None,
    "Safety",
    "Leave empty for a dry run. With dry run off it must equal the name of the Dify database "
    f"(the Schema field of the Airflow connection {load_defaults()['conn_id']}); "
    "a dry run's report prints the name to type.",
    nullable=True,
)
