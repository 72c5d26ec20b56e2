"""A run's configuration: the DAG's trigger form, declared once as data, and nothing else.

Airflow accepts any key in a run's ``conf`` and passes it on, so a typo ("dryrun") was silently
ignored and a run meant as a dry run purged for real. A run may set the fields its DAG's form
declares; every other setting belongs to the deployment (the Airflow Variables). Both rules are
checked here, before anything connects.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import jsonschema

from dify_maintenance.core.errors import InvalidPolicy


def check_conf(conf: dict[str, Any], declared: Iterable[str], dag_id: str) -> None:
    """Refuse a run whose ``conf`` names a key its form does not declare, listing the valid ones."""
    fields = sorted(declared)
    unknown = sorted(set(conf or {}) - set(fields))
    if not unknown:
        return
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, fields, n=1)
        hints.append(f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key))
    raise InvalidPolicy(
        f"{dag_id} does not know the run configuration key{'s' if len(unknown) > 1 else ''} {', '.join(hints)}. "
        "A run may set only its form's fields; everything else (time budget, health thresholds, connection "
        "ids, ...) is the deployment's, in the DAG's Airflow Variable (README: Configuration). "
        f"The form's fields: {', '.join(fields)}"
    )


def check_typed_confirmation(database: str, dry_run: bool, typed: str | None) -> None:
    """A run that deletes must name the database it deletes from, typed by a person."""
    if not dry_run and typed != database:
        raise InvalidPolicy(
            f"a real run deletes data: type the database name {database!r} into confirm_database "
            f"(got {typed!r}), or leave dry_run on"
        )


# ---------------------------------------------------------------- declared forms


@dataclass(frozen=True)
class Field:
    """One field of a DAG's trigger form: its type, bounds and default, declared once. Airflow's
    Params are made from it (``airflow/params.py``) and the engine validates with it, so the
    form and the engine cannot disagree about a bound or a default."""

    name: str
    title: str
    kind: str  # JSON schema type: "integer", "boolean", "string", "array"
    default: Any = None
    section: str | None = None
    description: str = ""
    nullable: bool = False  # an empty field (None) is allowed: "use the default/policy"
    minimum: int | None = None
    maximum: int | None = None
    enum: tuple | None = None
    items: dict | None = None
    pattern: str | None = None
    format: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_items: int | None = None
    values_display: dict | None = None
    examples: tuple | None = None

    def schema(self) -> dict:
        """The field's JSON schema (what Airflow's Param validates and the UI renders)."""
        schema: dict[str, Any] = {"type": ["null", self.kind] if self.nullable else self.kind}
        extra = {
            "minimum": self.minimum,
            "maximum": self.maximum,
            "enum": (list(self.enum) + ([None] if self.nullable and None not in self.enum else []))
            if self.enum is not None
            else None,
            "items": self.items,
            "pattern": self.pattern,
            "format": self.format,
            "minLength": self.min_length,
            "maxLength": self.max_length,
            "minItems": self.min_items,
        }
        schema.update({key: value for key, value in extra.items() if value is not None})
        return schema


@dataclass(frozen=True)
class Form:
    """A DAG's trigger form: what a run may set, nothing else."""

    dag_id: str
    fields: tuple[Field, ...]

    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def defaults(self) -> dict[str, Any]:
        return {f.name: f.default for f in self.fields}

    def values(self, given: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """``given`` over the defaults, each value checked against its field's schema; every
        problem listed (unknown names too), so a typo is never silently ignored."""
        errors = (
            [f"unknown parameters: {', '.join(sorted(set(given) - set(self.names())))}"] if set(given) - set(self.names()) else []
        )
        values = {**self.defaults(), **{k: v for k, v in given.items() if k in self.names()}}
        for f in self.fields:
            validator = jsonschema.Draft202012Validator(f.schema(), format_checker=jsonschema.FormatChecker())
            errors.extend(f"{f.name}: {error.message}" for error in validator.iter_errors(values[f.name]))
        return values, errors

    def checked(self, given: dict[str, Any], what: str, check: Callable[[dict], list[str]] | None = None) -> dict[str, Any]:
        """``values`` that must pass: the schema of every field, then ``check`` (rules across
        fields); every problem in one operator message, before anything connects."""
        values, errors = self.values(given)
        if not errors and check is not None:
            errors = check(values)
        if errors:
            raise InvalidPolicy(f"invalid {what} parameters: " + "; ".join(errors))
        return values
