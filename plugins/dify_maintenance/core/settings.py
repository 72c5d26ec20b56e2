"""The deployment's settings: which Airflow connections hold Dify's database, its storage and the
archive. They share the Airflow Variable ``dify_maintenance_policy`` with the retention policy
(one JSON object, as before), but are read and validated on their own: the backup, the log
pipeline, the orphaned files, the table sizes and the maintenance page need a connection id,
not the retention rules, so a mistake in a retention key fails the retention runs and nothing
else. A misspelt settings key still fails everywhere, with the key it probably meant."""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from typing import Any

from dify_maintenance import INCLUDE_DIR
from dify_maintenance.core.errors import InvalidPolicy

VARIABLE = "dify_maintenance_policy"
# An operator sets this Variable to "stop" to end running purges gracefully after their batch.
STOP_VARIABLE = "dify_maintenance_stop"
_STOP_VALUES = ("stop", "true", "1", "yes")
DEFAULTS_FILE = INCLUDE_DIR / "retention_policy.json"


@dataclass(frozen=True)
class Settings:
    conn_id: str = "dify_db"
    archive_conn_id: str = "dify_archive"
    storage_conn_id: str = "dify_storage"
    # Without an archive or backup-store connection, archives and backups go to a folder on the
    # worker; under an executor whose workers come and go (Celery, Kubernetes) that folder is gone
    # with them. True declares the folder shared storage (a volume every worker mounts).
    local_stores_shared: bool = False


KEYS = tuple(Settings.__dataclass_fields__)


def parse_variable(raw: str | dict | None) -> dict[str, Any]:
    """The Variable as a dict: empty when unset; an error naming it when it is not a JSON object."""
    if isinstance(raw, str):
        if not raw.strip():
            return {}
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InvalidPolicy(f"Airflow Variable {VARIABLE} is not valid JSON: {exc}") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidPolicy(f"Airflow Variable {VARIABLE} must be a JSON object")
    return raw


def file_defaults() -> dict[str, Any]:
    with open(DEFAULTS_FILE, encoding="utf-8") as fh:
        return {k: v for k, v in json.load(fh).items() if not k.startswith("_")}


def resolve(raw: str | dict | None) -> Settings:
    """The settings from the defaults file and the Variable; every other key is the retention
    policy's to judge, except one that looks like a misspelt settings key."""
    variable = parse_variable(raw)
    defaults = file_defaults()
    errors = []
    for key in sorted(set(variable) - set(defaults)):
        meant = difflib.get_close_matches(key, KEYS, n=1, cutoff=0.8)
        if meant:
            errors.append(f"unknown key {key!r} (did you mean {meant[0]!r}?)")
    values = {key: variable.get(key, defaults.get(key, getattr(Settings, key))) for key in KEYS}
    shared = values.pop("local_stores_shared")
    if not isinstance(shared, bool):
        errors.append(f"local_stores_shared must be true or false, got {shared!r}")
    errors.extend(
        f"{key} must be a non-empty connection id, got {value!r}"
        for key, value in values.items()
        if not isinstance(value, str) or not value.strip()
    )
    if errors:
        raise InvalidPolicy(f"invalid deployment settings in Airflow Variable {VARIABLE}: " + "; ".join(errors))
    return Settings(**values, local_stores_shared=shared is True)


def stop_requested(value: object) -> bool:
    """Does the stop switch's value (the Variable as text) ask running purges to stop?"""
    return str(value or "").strip().lower() in _STOP_VALUES
