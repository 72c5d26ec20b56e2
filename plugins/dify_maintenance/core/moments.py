"""Moments as Dify stores them (naive UTC), and the one rule every deleting run shares about them:
no cutoff later than the database's own clock.

A run triggered with a logical date in the future (a typo in the trigger form, a clock that is
off) would otherwise delete rows Dify wrote a moment ago. The database's clock is the judge,
since Dify's rows carry it, not the worker's.
"""

from __future__ import annotations

from datetime import UTC, datetime

from dify_maintenance.core.errors import InvalidPolicy


def naive_utc(moment: datetime) -> datetime:
    """``moment`` in UTC without a zone (a naive value is taken as UTC already)."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def as_naive(value: datetime | str) -> datetime:
    return naive_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


def refuse_future(cutoffs: dict[str, datetime | str], db_now: datetime, what: str = "cutoff") -> None:
    """Stop before anything changes when a cutoff lies after the database's now."""
    now = naive_utc(db_now)
    late = {name: as_naive(value) for name, value in cutoffs.items() if as_naive(value) > now}
    if late:
        listed = ", ".join(f"{name} {moment.isoformat(sep=' ', timespec='seconds')}" for name, moment in sorted(late.items()))
        raise InvalidPolicy(
            f"the {what} is later than the database's clock ({now.isoformat(sep=' ', timespec='seconds')} UTC): {listed}. "
            "A run with a logical date in the future would delete rows Dify writes now; nothing was changed. "
            "Trigger it without a logical date (or with one in the past)."
        )
