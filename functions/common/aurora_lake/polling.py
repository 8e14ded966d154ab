"""How long to wait before the next status check of a snapshot or an export.

Step Functions bills every state transition, and each poll costs three (Wait,
check, Choice). A fixed interval is either expensive for long exports or slow to
notice short ones. Instead, each check brackets the completion time from the
progress seen so far and waits until just after the *earliest* time the task
can be complete, plus the latency we accept:

* ``earliest`` assumes progress never speeds up: the rest goes at most as fast
  as the slowest rate measured so far (readings are whole percents, so every
  measured rate is widened by one percent). Exports slow down toward the end
  (the largest tables finish last), so this bound holds for them; a check
  that lands early only costs one more poll, never a late notice.
* While nothing has progressed (an export sits in ``STARTING`` at 0%), the
  run is assumed to report 0% for at most ``MAX_NO_PROGRESS_FRACTION`` of its
  time, so it cannot be complete before ``elapsed / MAX_NO_PROGRESS_FRACTION``.
* An export's progress begins at an unknown time, after the last 0% check
  and before the first check that saw progress. A late start means a fast
  rate but also a long silence, which the silence bound turns into a long
  run; the earliest completion is the smallest one over every start time,
  where the two bounds meet. No further guess about the rate is made.

The accepted latency is a tenth of the run (at least a minute, at most a quarter
of an hour), so the number of polls grows with the logarithm of the duration,
except in the last percent: a reading of 99 cannot rule out completion at any
moment, so it is checked again every quarter of an hour.

With ``POLL_FIXED_WAIT_SECONDS`` set, every wait is that many seconds instead:
the fixed-interval poll that ``make bench`` compares against.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Any

MIN_WAIT_SECONDS = 30
MAX_WAIT_SECONDS = 12 * 3600
# Detection latency we accept: a tenth of the run, at least a minute, at most a quarter of an hour.
LATENCY_FRACTION = 0.1
MIN_LATENCY_SECONDS = 60
MAX_LATENCY_SECONDS = 900
# The longest share of its run a task may report no progress (RDS exports spend about a fifth
# of their run in STARTING); a longer silent phase is noticed late, never missed.
MAX_NO_PROGRESS_FRACTION = 1 / 3
# Bisection steps to find when an export's progress began (the bracket shrinks to 2**-40 of itself).
START_SEARCH_STEPS = 40
# Progress is reported in whole percents.
RESOLUTION_PERCENT = 1.0
# Checks kept for rate measurements (a few hundred bytes of state).
MAX_POINTS = 5
FIRST_SNAPSHOT_WAIT_SECONDS = 60
FIRST_EXPORT_WAIT_SECONDS = 120
FIXED_WAIT_ENV = "POLL_FIXED_WAIT_SECONDS"


@dataclass(frozen=True)
class Progress:
    """What the previous checks saw; kept in the state data between polls."""

    started_at: float
    # True when progress is counted from started_at (a snapshot this run created); an
    # export's progress only starts after STARTING, at a time nobody reports.
    counts_from_start: bool = False
    last_checked_at: float | None = None
    last_percent: float = 0.0
    # The last check that saw 0% (an export in STARTING reports 0%): progress began after it.
    last_zero_at: float | None = None
    # The first check that saw progress: progress began before it.
    first_progress_at: float | None = None
    # The latest checks that saw progress, as [time, percent]: rates are measured over every span.
    points: tuple[tuple[float, float], ...] = ()
    polls: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, started_at: float) -> Progress:
        if not data:
            return cls(started_at=started_at, last_zero_at=started_at)
        values = {key: data[key] for key in cls.__dataclass_fields__ if key in data}
        values["points"] = tuple((float(at), float(percent)) for at, percent in values.get("points") or ())
        return cls(**values)


def fixed_wait() -> int | None:
    """The fixed interval set by POLL_FIXED_WAIT_SECONDS, if any."""
    value = os.environ.get(FIXED_WAIT_ENV)
    return max(1, int(float(value))) if value else None


def first_wait(default: int) -> int:
    return fixed_wait() or default


def latency_budget(expected_total: float) -> float:
    return min(MAX_LATENCY_SECONDS, max(MIN_LATENCY_SECONDS, LATENCY_FRACTION * expected_total))


def _clamp(seconds: float) -> int:
    return int(min(MAX_WAIT_SECONDS, max(MIN_WAIT_SECONDS, math.ceil(seconds))))


def _fastest_rate(spans: list[tuple[float, float]], now: float, percent: float) -> float:
    """Upper bound of the rate (percent per second) for the rest of the run; inf when unknown."""
    bounds = [
        (percent - before + RESOLUTION_PERCENT) / (now - at) for at, before in spans if now > at and percent >= before
    ]
    return min(bounds, default=math.inf)


def _silence_bound(progress: Progress, silent_until: float) -> float:
    """The earliest end of a run that reported no progress until ``silent_until``."""
    return progress.started_at + (silent_until - progress.started_at) / MAX_NO_PROGRESS_FRACTION


def earliest_completion(progress: Progress, now: float, percent: float) -> float:
    """The earliest time the task can be complete, given what the checks have seen."""
    # Below a whole percent nothing is measurable: a 0% reading counts as no progress.
    if percent <= 0:
        return progress.started_at if progress.counts_from_start else _silence_bound(progress, now)
    remaining = max(0.0, 100.0 - percent - RESOLUTION_PERCENT)
    measured = _fastest_rate(list(progress.points), now, percent)

    def by_rate(progress_began_at: float) -> float:
        rate = min(measured, _fastest_rate([(progress_began_at, 0.0)], now, percent))
        return now + (remaining / rate if rate > 0 else 0.0)

    if progress.counts_from_start:
        return by_rate(progress.started_at)
    # Progress began in (low, high]. by_rate falls and the silence bound rises as the start moves
    # later; the run ends no earlier than the smaller of the two maxima, found where they meet.
    low = progress.last_zero_at if progress.last_zero_at is not None else progress.started_at
    high = max(low, progress.first_progress_at if progress.first_progress_at is not None else now)
    for _ in range(START_SEARCH_STEPS):
        middle = (low + high) / 2
        if _silence_bound(progress, middle) < by_rate(middle):
            low = middle
        else:
            high = middle
    # For any start, one of the two bounds is at least this: a lower bound of the completion.
    return max(_silence_bound(progress, low), by_rate(high))


def next_wait(progress: Progress, now: float, percent: float) -> tuple[int, Progress]:
    """The next wait in seconds, and the progress record to keep for the next check."""
    earliest = max(now, earliest_completion(progress, now, percent))
    budget = latency_budget(earliest - progress.started_at)
    wait = fixed_wait() or _clamp(earliest + budget - now)
    points = (*progress.points, (now, percent))[-MAX_POINTS:] if percent > 0 else progress.points
    updated = Progress(
        started_at=progress.started_at,
        counts_from_start=progress.counts_from_start,
        last_checked_at=now,
        last_percent=percent,
        last_zero_at=now if percent <= 0 else progress.last_zero_at,
        first_progress_at=now if percent > 0 and progress.first_progress_at is None else progress.first_progress_at,
        points=points,
        polls=progress.polls + 1,
    )
    return wait, updated
