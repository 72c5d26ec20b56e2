"""The trigger forms as Airflow Params, made from the forms the engine declares and validates
with (``core.forms.Form``): fields, bounds and defaults live in one place. A run's conf may hold
only these fields (``forms.check_conf``)."""

from __future__ import annotations

from airflow.sdk import Param

from dify_maintenance.core.forms import Field, Form
from dify_maintenance.core.policy import RETENTION_FORM
from dify_maintenance.database.backup import BACKUP_FORM
from dify_maintenance.database.preupgrade import PRE_UPGRADE_FORM
from dify_maintenance.files.migration import MIGRATION_FORM
from dify_maintenance.files.orphans import ORPHANS_FORM
from dify_maintenance.files.quarantine import RESTORE_QUARANTINE_FORM
from dify_maintenance.retention.restore import RESTORE_ARCHIVE_FORM


def _param(field: Field) -> Param:
    shown = {
        "title": field.title,
        "section": field.section,
        "description": field.description or None,
        "values_display": field.values_display,
        "examples": list(field.examples) if field.examples else None,
    }
    return Param(field.default, **{k: v for k, v in shown.items() if v is not None}, **field.schema())


def params_for(form: Form) -> dict[str, Param]:
    """The Params of a DAG, in the form's order (the UI shows them so)."""
    return {field.name: _param(field) for field in form.fields}


def retention_params() -> dict[str, Param]:
    return params_for(RETENTION_FORM)


def pre_upgrade_params() -> dict[str, Param]:
    return params_for(PRE_UPGRADE_FORM)


def backup_params() -> dict[str, Param]:
    return params_for(BACKUP_FORM)


def storage_migration_params() -> dict[str, Param]:
    return params_for(MIGRATION_FORM)


def orphan_params() -> dict[str, Param]:
    return params_for(ORPHANS_FORM)


def restore_quarantine_params() -> dict[str, Param]:
    return params_for(RESTORE_QUARANTINE_FORM)


def restore_archive_params() -> dict[str, Param]:
    return params_for(RESTORE_ARCHIVE_FORM)
