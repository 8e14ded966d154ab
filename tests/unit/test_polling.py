"""Adaptive polling: few polls, and completion noticed quickly, for any duration."""

from __future__ import annotations

import pytest

from aurora_lake import polling


def simulated_export(elapsed: float, duration: float) -> tuple[bool, float]:
    """Exports sit at 0% for a fifth of their time and slow down at the end."""
    if elapsed >= duration:
        return True, 100.0
    if elapsed < 0.2 * duration:
        return False, 0.0
    if elapsed < 0.7 * duration:
        return False, 90 * (elapsed - 0.2 * duration) / (0.5 * duration)
    return False, 90 + 10 * (elapsed - 0.7 * duration) / (0.3 * duration)


def poll_until_complete(duration: float) -> tuple[int, float]:
    now, wait = 0.0, polling.FIRST_EXPORT_WAIT_SECONDS
    progress = polling.Progress(started_at=0.0, last_zero_at=0.0)
    polls = 0
    while True:
        now += wait
        polls += 1
        complete, percent = simulated_export(now, duration)
        if complete:
            return polls, now - duration
        wait, progress = polling.next_wait(progress, now, percent)
        assert polling.MIN_WAIT_SECONDS <= wait <= polling.MAX_WAIT_SECONDS


@pytest.mark.parametrize("duration", [120, 300, 600, 1200, 3600, 7200, 21600, 43200, 86400])
def test_completion_is_noticed_within_the_latency_budget(duration: float) -> None:
    polls, latency = poll_until_complete(duration)
    assert latency <= min(900, max(60, 0.1 * duration)), (polls, latency)


def test_polls_grow_slowly_with_duration() -> None:
    short, _ = poll_until_complete(600)
    long, _ = poll_until_complete(86400)
    # A fixed 60 s interval would poll 10 and 1,440 times.
    assert short <= 8
    assert long <= 16


def test_no_progress_backs_off_with_elapsed_time() -> None:
    progress = polling.Progress(started_at=0.0, last_zero_at=0.0)
    first, progress = polling.next_wait(progress, 60.0, 0.0)
    second, progress = polling.next_wait(progress, 60.0 + first, 0.0)
    assert first == 60
    assert second > first


def test_progress_record_round_trips_through_state_data() -> None:
    progress = polling.Progress(started_at=10.0, last_checked_at=70.0, last_percent=12.5, main_rate=0.2, polls=3)
    assert polling.Progress.from_dict(progress.to_dict(), started_at=0.0) == progress
    fresh = polling.Progress.from_dict(None, started_at=42.0)
    assert fresh.started_at == 42.0 and fresh.polls == 0


def test_near_completion_the_wait_never_exceeds_the_latency_budget() -> None:
    progress = polling.Progress(started_at=0.0, last_checked_at=3000.0, last_percent=80.0, last_zero_at=500.0, main_rate=0.03)
    wait, _ = polling.next_wait(progress, 3300.0, 99.5)
    assert wait <= polling.latency_budget(3300.0 + wait)
