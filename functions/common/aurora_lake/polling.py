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
* The first progress of an export says little about its rate (progress began
  some time after the last 0% check), so the next check comes soon after and
  measures it; only a first reading of at least ``FIRST_PROGRESS_MIN_PERCENT``
  is taken to mean progress ran for half of the time since the last 0% check.

The accepted latency is a tenth of the run (at least a minute, at most a quarter
of an hour), so the number of polls grows with the logarithm of the duration.

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
# A first progress reading this high is taken to mean progress ran for at least this share of
# the time since the last 0% check (otherwise the next check comes a latency budget later).
FIRST_PROGRESS_MIN_PERCENT = 30
FIRST_PROGRESS_SHARE = 0.5
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


def _fastest_rate(progress: Progress, now: float, percent: float) -> float:
    """Upper bound of the rate (percent per second) for the rest of the run; inf when unknown."""
    spans = list(progress.points)
    if progress.counts_from_start:
        spans.append((progress.started_at, 0.0))
    elif not spans and progress.last_zero_at is not None and percent >= FIRST_PROGRESS_MIN_PERCENT:
        spans.append((now - FIRST_PROGRESS_SHARE * (now - progress.last_zero_at), 0.0))
    bounds = [
        (percent - before + RESOLUTION_PERCENT) / (now - at) for at, before in spans if now > at and percent >= before
    ]
    return min(bounds) if bounds else math.inf


def earliest_completion(progress: Progress, now: float, percent: float) -> float:
    """The earliest time the task can be complete, given what the checks have seen."""
    # Below a whole percent nothing is measurable: a 0% reading counts as no progress.
    silent = percent <= 0
    # No progress until the last 0% check: the run is at least that long over the fraction.
    silent_until = now if silent else progress.last_zero_at
    by_silence = progress.started_at
    if silent_until is not None and not progress.counts_from_start:
        by_silence += (silent_until - progress.started_at) / MAX_NO_PROGRESS_FRACTION
    if silent:
        return by_silence
    rate = _fastest_rate(progress, now, percent)
    remaining = max(0.0, 100.0 - percent - RESOLUTION_PERCENT)
    return max(by_silence, now + (remaining / rate if rate > 0 else 0.0))


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
        points=points,
        polls=progress.polls + 1,
    )
    return wait, updated
