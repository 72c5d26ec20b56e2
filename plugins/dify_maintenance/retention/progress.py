"""Progress of a purge in the task log: rows done, rate, and what is left (the block position of
a ctid walk, the planner's estimate of a keyset walk), with an estimated time left."""

from __future__ import annotations

import logging
import time
from datetime import datetime

import psycopg

from dify_maintenance.core import state
from dify_maintenance.core.db import fetch_one
from dify_maintenance.retention.plan import RootPlan

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 5.0


class Reporter:
    """Progress lines in the task log every few seconds: rows done, rate, rows or blocks left, ETA."""

    def __init__(self, family: str) -> None:
        self.family = family
        self.started = time.monotonic()
        self.last = 0.0
        self.stage_started = self.started
        self.table = ""
        self.expected: int | None = None
        self.matched_at_begin = 0

    def begin(self, progress: state.Progress, table: str, expected: int | None) -> None:
        """A new stage; ``expected`` is the planner's estimate of the root rows still to walk."""
        self.stage_started = time.monotonic()
        self.table = table
        self.expected = expected
        self.matched_at_begin = int(progress.counter(table)["matched"])

    def maybe(self, stage: str, progress: state.Progress, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < PROGRESS_EVERY_SECONDS:
            return
        self.last = now
        deleted = sum(c.get("deleted", 0) for c in (progress.counters or {}).values())
        elapsed = max(now - self.started, 1e-6)
        log.info(
            "%s/%s: %d batches, %d rows deleted, %.0f rows/s; %s",
            self.family,
            stage,
            progress.batches,
            deleted,
            deleted / elapsed,
            "done" if progress.done else self._left(progress, max(now - self.stage_started, 1e-6)),
        )

    def _left(self, progress: state.Progress, stage_elapsed: float) -> str:
        cursor = progress.cursor or {}
        if "end" in cursor:  # ctid walk: the block position is exact
            fraction = cursor["block"] / cursor["end"] if cursor["end"] else 1.0
            eta = stage_elapsed * (1 - fraction) / fraction if fraction else None
            return f"block {cursor['block']} of {cursor['end']} ({fraction:.0%}), {_eta(eta)}"
        if self.expected is None:
            return f"cursor {cursor or 'start'}"
        walked = int(progress.counter(self.table)["matched"]) - self.matched_at_begin
        left = max(self.expected - walked, 0)
        eta = left / (walked / stage_elapsed) if walked else None
        return f"~{left} {self.table} rows left (planner estimate), {_eta(eta)}"


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "time left unknown yet"
    return f"about {seconds / 60:.1f} min left" if seconds >= 90 else f"about {seconds:.0f}s left"


def estimate_expired(conn: psycopg.Connection, plan: RootPlan, cutoff: datetime) -> int:
    """The planner's estimate of expired root rows: free, unlike a count over a 100 GB table."""
    tmpl = plan.template
    row = fetch_one(
        conn,
        "plan/expired_estimate.sql",
        {**plan.params, "cutoff": cutoff},
        table=tmpl["table"],
        recency=tmpl["recency"],
        only_null=tmpl["only_null"],
        scope_columns=tmpl["scope_columns"],
        filters=tmpl["filters"],
    )
    return int(row["QUERY PLAN"][0]["Plan"]["Plan Rows"]) if row else 0
