"""Adaptive batch size: aim every batch at a target duration (GitLab's batch optimizer: an
exponential moving average of the recent batches decides +10 % or -20 %), and never past a
target of archived bytes: a batch of a few huge rows (50 MB node outputs) gets as small as it must
be, at once, whatever its duration."""

from __future__ import annotations

from dataclasses import dataclass

GROW, SHRINK, ALPHA = 1.10, 0.80, 0.4
MIN_ROWS = 10


@dataclass
class BatchSizer:
    size: int
    target_seconds: float
    max_size: int
    average: float | None = None
    target_bytes: int | None = None

    def record(self, seconds: float, nbytes: int = 0) -> int:
        """Feed the duration (and the bytes archived) of the batch just committed; returns the size
        for the next one."""
        if self.target_bytes and nbytes > self.target_bytes:
            self.size = max(MIN_ROWS, int(self.size * self.target_bytes / nbytes))
            return self.size
        self.average = seconds if self.average is None else ALPHA * seconds + (1 - ALPHA) * self.average
        if self.average > self.target_seconds:
            self.size = max(MIN_ROWS, int(self.size * SHRINK))
        elif self.average < 0.9 * self.target_seconds:
            self.size = min(self.max_size, max(self.size + 1, int(self.size * GROW)))
        return self.size
