"""How long to wait before the next status check of a snapshot or an export.

Step Functions bills every state transition, and each poll costs three (Wait,
check, Choice). A fixed interval is either expensive for long exports or slow to
notice short ones. Instead, each check estimates the time remaining from the
progress RDS reports and waits most of it, then tightens the interval as the
estimate nears zero. The number of polls then grows with the logarithm of the
duration, while the delay between completion and its detection stays a small
fraction of the elapsed time.

Exports do not progress linearly: they sit in STARTING at 0% for a while, then
slow down at the end because the largest tables finish last. The estimate
assumes the last ``TAIL_PERCENT`` of progress runs ``TAIL_SLOWDOWN`` times
slower than the rest, and corrects itself from the rate it observes there.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

MIN_WAIT_SECONDS = 30
MAX_WAIT_SECONDS = 6 * 3600
# Detection latency we accept near completion: a tenth of the elapsed time,
# but at least a minute and at most a quarter of an hour.
LATENCY_FRACTION = 0.1
MIN_LATENCY_SECONDS = 60
MAX_LATENCY_SECONDS = 900
# Fraction of the estimated remaining time waited while completion is far away:
# below 1 so that an optimistic estimate does not overshoot completion.
REMAINING_FRACTION = 0.85
# While nothing has progressed yet, the wait grows with the time already spent.
NO_PROGRESS_GROWTH = 1.0
TAIL_PERCENT = 10.0
TAIL_SLOWDOWN = 6.0
FIRST_SNAPSHOT_WAIT_SECONDS = 60
FIRST_EXPORT_WAIT_SECONDS = 60


@dataclass(frozen=True)
class Progress:
    """What the previous checks saw; kept in the state data between polls."""

    started_at: float
    last_checked_at: float | None = None
    last_percent: float = 0.0
    # Progress began after the last check that still saw 0%.
    last_zero_at: float | None = None
    # Percent per second before the tail, once two checks have measured it.
    main_rate: float | None = None
    # The first check that saw the tail, to measure the tail's own rate.
    tail_checked_at: float | None = None
    tail_percent: float | None = None
    polls: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, started_at: float) -> Progress:
        if not data:
            return cls(started_at=started_at, last_zero_at=started_at)
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


def latency_budget(expected_total: float) -> float:
    return min(MAX_LATENCY_SECONDS, max(MIN_LATENCY_SECONDS, LATENCY_FRACTION * expected_total))


def _clamp(seconds: float) -> int:
    return int(min(MAX_WAIT_SECONDS, max(MIN_WAIT_SECONDS, round(seconds))))


def _main_rate(progress: Progress, now: float, percent: float) -> float | None:
    """Percent per second before the tail, measured or estimated."""
    tail_start = 100.0 - TAIL_PERCENT
    if progress.last_percent > 0 and progress.last_checked_at is not None and percent > progress.last_percent:
        if progress.last_percent < tail_start and percent <= tail_start:
            return (percent - progress.last_percent) / max(1.0, now - progress.last_checked_at)
    if progress.main_rate is not None:
        return progress.main_rate
    if percent <= 0:
        return None
    # A single observation: progress began somewhere since the last 0% check;
    # assume half-way, which errs towards checking again early.
    began = progress.last_zero_at if progress.last_zero_at is not None else progress.started_at
    return percent / max(1.0, (now - began) / 2)


def estimate_remaining(progress: Progress, now: float, percent: float) -> tuple[float | None, float | None]:
    """(seconds until 100% or None while nothing has progressed, main-phase rate)."""
    rate = _main_rate(progress, now, percent)
    if rate is None:
        return None, None
    tail_start = 100.0 - TAIL_PERCENT
    if percent >= tail_start:
        if progress.tail_checked_at is not None and progress.tail_percent is not None and percent > progress.tail_percent:
            tail_rate = (percent - progress.tail_percent) / max(1.0, now - progress.tail_checked_at)
            return (100.0 - percent) / tail_rate, rate
        return (100.0 - percent) * TAIL_SLOWDOWN / rate, rate
    return (tail_start - percent) / rate + TAIL_PERCENT * TAIL_SLOWDOWN / rate, rate


def next_wait(progress: Progress, now: float, percent: float) -> tuple[int, Progress]:
    """The next wait in seconds, and the progress record to keep for the next check."""
    elapsed = max(0.0, now - progress.started_at)
    remaining, rate = estimate_remaining(progress, now, percent)
    if remaining is None:
        wait = max(FIRST_EXPORT_WAIT_SECONDS, NO_PROGRESS_GROWTH * elapsed)
    else:
        budget = latency_budget(elapsed + remaining)
        if REMAINING_FRACTION * remaining > budget:
            wait = REMAINING_FRACTION * remaining
        else:
            # Close to the end: land just after the estimated completion,
            # never later than the latency budget allows.
            wait = min(remaining + budget / 2, budget)
    in_tail = percent >= 100.0 - TAIL_PERCENT
    first_tail_check = in_tail and progress.tail_checked_at is None
    updated = Progress(
        started_at=progress.started_at,
        last_checked_at=now,
        last_percent=percent,
        last_zero_at=now if percent <= 0 else progress.last_zero_at,
        main_rate=rate if rate is not None and progress.last_percent > 0 else progress.main_rate,
        tail_checked_at=now if first_tail_check else progress.tail_checked_at,
        tail_percent=percent if first_tail_check else progress.tail_percent,
        polls=progress.polls + 1,
    )
    return _clamp(wait), updated
