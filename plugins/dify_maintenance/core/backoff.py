"""One back-off for every wait-and-try-again: a lock that a live transaction holds (batches,
VACUUM FULL, a rebuild's swap), a log cluster that dropped the connection or answered 429/5xx.
The pause doubles from ``first_pause`` up to ``cap``; what counts as worth another try, and the
error after the last one, are the caller's."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import psycopg

log = logging.getLogger(__name__)

T = TypeVar("T")


def pause_before(retry: int, first_pause: float, cap: float = 30.0) -> float:
    """The wait before retry number ``retry`` (0 for the first retry)."""
    return min(first_pause * 2**retry, cap)


def with_backoff(
    call: Callable[[], T],
    *,
    what: str,
    retries: int,
    retryable: Callable[[BaseException], str | None],
    give_up: Callable[[BaseException, int], BaseException] | None = None,
    first_pause: float = 1.0,
    cap: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call``, tried again up to ``retries`` times while ``retryable(error)`` names a reason
    (else the error is raised at once). After the last try, ``give_up(error, tries)`` is raised
    from the error (or the error itself, without ``give_up``)."""
    for retry in range(retries + 1):
        try:
            return call()
        except Exception as exc:
            reason = retryable(exc)
            if reason is None:
                raise
            if retry == retries:
                if give_up is None:
                    raise
                raise give_up(exc, retry + 1) from exc
            pause = pause_before(retry, first_pause, cap)
            log.warning("%s: %s; try %d of %d in %.1f s", what, reason, retry + 2, retries + 1, pause)
            sleep(pause)
    raise AssertionError("unreachable")


def lock_timeout(exc: BaseException) -> str | None:
    """A lock a live transaction held past our lock_timeout: worth waiting for."""
    return "lock not available" if isinstance(exc, psycopg.errors.LockNotAvailable) else None
