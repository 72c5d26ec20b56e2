"""A run's configuration: the DAG's trigger form and nothing else.

Airflow accepts any key in a run's ``conf`` and passes it on, so a typo ("dryrun") was silently
ignored and a run meant as a dry run purged for real. A run may set the fields its DAG's form
declares; every other setting belongs to the deployment (the Airflow Variables). Both rules are
checked here, before anything connects.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

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


def known_values(params: dict, request_type: type) -> tuple[dict[str, Any], list[str]]:
    """The fields of ``request_type`` that ``params`` sets (``None`` means "use the default"),
    and an error naming every parameter it does not know, so a typo is not silently ignored."""
    known = set(request_type.__dataclass_fields__) - {"errors"}
    unknown = sorted(set(params) - known)
    errors = [f"unknown parameters: {', '.join(unknown)}"] if unknown else []
    return {k: v for k, v in params.items() if k in known and v is not None}, errors
