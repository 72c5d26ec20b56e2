"""Trigger-form parameters into a request dataclass: the part every DAG's validation shares."""

from __future__ import annotations

from typing import Any


def known_values(params: dict, request_type: type) -> tuple[dict[str, Any], list[str]]:
    """The fields of ``request_type`` that ``params`` sets (``None`` means "use the default"),
    and an error naming every parameter it does not know, so a typo is not silently ignored."""
    known = set(request_type.__dataclass_fields__) - {"errors"}
    unknown = sorted(set(params) - known)
    errors = [f"unknown parameters: {', '.join(unknown)}"] if unknown else []
    return {k: v for k, v in params.items() if k in known and v is not None}, errors
