"""The trigger forms as Airflow Params, made from the forms the engine declares and validates
with (``core.forms.Form``): fields, bounds and defaults live in one place. A run's conf may hold
only these fields (``forms.check_conf``)."""

from __future__ import annotations

from airflow.sdk import Param

from dify_maintenance.core.forms import Field, Form


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
