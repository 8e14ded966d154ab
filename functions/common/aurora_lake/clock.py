"""The one source of time for the workflow's logic.

Polling, deadlines and Athena query waits read time here, so that a local
emulated account can run a day-long export in seconds by swapping the source.
"""

from __future__ import annotations

import time
from collections.abc import Callable

_now: Callable[[], float] = time.time
_sleep: Callable[[float], None] = time.sleep


def now() -> float:
    """Seconds since the epoch."""
    return _now()


def sleep(seconds: float) -> None:
    _sleep(seconds)


def use_time_source(now_fn: Callable[[], float], sleep_fn: Callable[[float], None]) -> None:
    """Replace the time source (the emulated account's virtual clock uses this)."""
    global _now, _sleep
    _now, _sleep = now_fn, sleep_fn


def use_real_time() -> None:
    use_time_source(time.time, time.sleep)
