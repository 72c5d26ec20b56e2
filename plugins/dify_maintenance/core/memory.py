"""Big buffers straight from the operating system, and back to it when freed.

glibc serves an allocation above its mmap threshold with its own mapping, returned on free; but
after the first such free it raises the threshold to that size (up to 32 MB), so the next
25 MB documents come from the heap and its per-thread arenas and stay there as fragmentation: a
migration of eight 25 MB rows peaked 100 MB higher for it. Fixing the threshold turns that
adjustment off for the process (a task's own process). Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3
THRESHOLD = 1 << 20
_done = False


def return_big_buffers() -> None:
    """Fix glibc's mmap threshold at 1 MB for this process (once)."""
    global _done
    if _done:
        return
    _done = True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return  # not glibc
    if not mallopt(M_MMAP_THRESHOLD, THRESHOLD):
        log.debug("mallopt(M_MMAP_THRESHOLD) was refused")
