"""Adaptive polling: few polls, and completion noticed quickly, for any duration and progress shape."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from aurora_lake import polling
from emulated_account.rds_sim import export_progress, snapshot_progress

# (status, whole percent) an export reports at elapsed seconds of a run of the given duration.
Shape = Callable[[float, float], tuple[str, int]]


def rds_model(elapsed: float, duration: float) -> tuple[str, int]:
    """The emulated account's export: STARTING for a fifth, 90% at 70%, then a slow tail."""
    return export_progress(elapsed, duration)


def linear(elapsed: float, duration: float) -> tuple[str, int]:
    if elapsed >= duration:
        return "COMPLETE", 100
    return "IN_PROGRESS", min(99, int(100 * elapsed / duration))


def slow_start(elapsed: float, duration: float) -> tuple[str, int]:
    """STARTING for 30% of the run, half again as long as the model's."""
    if elapsed >= duration:
        return "COMPLETE", 100
    fraction = elapsed / duration
    return ("STARTING", 0) if fraction < 0.3 else ("IN_PROGRESS", min(99, int(100 * (fraction - 0.3) / 0.7)))


def early_half(elapsed: float, duration: float) -> tuple[str, int]:
    """Half the progress in the first fifth after STARTING, the rest slowly."""
    if elapsed >= duration:
        return "COMPLETE", 100
    fraction = elapsed / duration
    if fraction < 0.2:
        return "STARTING", 0
    if fraction < 0.4:
        return "IN_PROGRESS", int(50 * (fraction - 0.2) / 0.2)
    return "IN_PROGRESS", min(99, int(50 + 50 * (fraction - 0.4) / 0.6))


SHAPES: dict[str, Shape] = {"rds_model": rds_model, "linear": linear, "slow_start": slow_start, "early_half": early_half}
# 2 minutes to 48 hours, with uneven durations so that no check time lines up by chance.
DURATIONS = [120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400, 172800, *range(137, 172800, 1733)]


def budget(duration: float) -> float:
    return min(900.0, max(60.0, 0.1 * duration))


def poll_until_complete(duration: float, shape: Shape) -> tuple[int, float]:
    """(checks made, seconds between completion and the check that saw it)."""
    now, wait = 0.0, float(polling.FIRST_EXPORT_WAIT_SECONDS)
    progress = polling.Progress(started_at=0.0, last_zero_at=0.0)
    checks = 0
    while True:
        now += wait
        checks += 1
        status, percent = shape(now, duration)
        if status == "COMPLETE":
            return checks, now - duration
        # The bound every wait is built on: never later than the real end.
        assert polling.earliest_completion(progress, now, float(percent)) <= duration
        wait, progress = polling.next_wait(progress, now, float(percent))
        assert polling.MIN_WAIT_SECONDS <= wait <= polling.MAX_WAIT_SECONDS
        assert checks < 100


@pytest.mark.parametrize("shape", SHAPES)
def test_completion_is_noticed_within_the_latency_budget_for_every_duration(shape: str) -> None:
    late = {}
    for duration in DURATIONS:
        _, latency = poll_until_complete(duration, SHAPES[shape])
        if latency > budget(duration):
            late[duration] = latency
    assert late == {}


@pytest.mark.parametrize(("duration", "most_checks"), [(600, 4), (3600, 6), (21600, 8), (86400, 9), (172800, 14)])
def test_checks_grow_slowly_with_duration(duration: float, most_checks: int) -> None:
    checks, _ = poll_until_complete(duration, rds_model)
    # A fixed 60 s interval would check 10, 60, 360, 1,440 and 2,880 times.
    assert checks <= most_checks


@pytest.mark.parametrize(("duration", "usual_checks"), [(21600, 8), (86400, 12)])
def test_checks_stay_few_when_the_duration_shifts_a_little(duration: float, usual_checks: int) -> None:
    # Check times shift with the duration, so the count varies (a check can land just before
    # the end); it must not jump.
    counts = sorted(poll_until_complete(duration * (1 + step / 400), rds_model)[0] for step in range(-20, 21))
    assert counts[len(counts) // 2] <= usual_checks and counts[-1] <= usual_checks + 1


def test_no_progress_backs_off_with_elapsed_time_within_the_silence_bound() -> None:
    progress = polling.Progress(started_at=0.0, last_zero_at=0.0)
    first, progress = polling.next_wait(progress, 120.0, 0.0)
    second, progress = polling.next_wait(progress, 120.0 + first, 0.0)
    assert first < second
    # 0% at 120 s: the run lasts at least 120 / MAX_NO_PROGRESS_FRACTION s; check a budget after that.
    assert first == 120 / polling.MAX_NO_PROGRESS_FRACTION - 120 + 60


def test_an_unknown_start_of_progress_is_bounded_by_the_silence_before_it() -> None:
    progress = polling.Progress(started_at=0.0, last_zero_at=1000.0)
    # 0% at 1,000 s, 3% at 3,000 s: progress began at some s in (1000, 3000]. Then the rate is
    # at most 4% / (3000 - s), so the run lasts at least 3000 + 96 (3000 - s) / 4; and a silence
    # until s means a run of at least s / MAX_NO_PROGRESS_FRACTION = 3 s. The earliest end is where
    # the two meet: 3 s = 3000 + 24 (3000 - s), s = 75000 / 27.
    assert polling.MAX_NO_PROGRESS_FRACTION == pytest.approx(1 / 3)
    assert polling.earliest_completion(progress, 3000.0, 3.0) == pytest.approx(3 * 75000 / 27, abs=0.01)
    wait, updated = polling.next_wait(progress, 3000.0, 3.0)
    earliest = 3 * 75000 / 27
    assert wait == math.ceil(earliest + polling.latency_budget(earliest) - 3000.0)
    assert updated.first_progress_at == 3000.0 and updated.points == ((3000.0, 3.0),)
    # Later checks keep the first time progress was seen: it still bounds the start.
    _, later = polling.next_wait(updated, 9000.0, 40.0)
    assert later.first_progress_at == 3000.0 and later.last_zero_at == 1000.0


def test_the_earliest_completion_assumes_the_slowest_measured_rate_and_whole_percents() -> None:
    progress = polling.Progress(started_at=0.0, last_zero_at=100.0, points=((1000.0, 40.0),))
    # 40% -> 60% in 1000 s: at most 21% (whole-percent readings) per 1000 s, 39% or more to go.
    earliest = polling.earliest_completion(progress, 2000.0, 60.0)
    assert earliest == pytest.approx(2000.0 + 39 / (21 / 1000))


def test_a_snapshot_rate_is_known_from_its_first_check() -> None:
    progress = polling.Progress(started_at=0.0, last_zero_at=0.0, counts_from_start=True)
    now, wait = 0.0, polling.FIRST_SNAPSHOT_WAIT_SECONDS
    checks = 0
    while True:
        now += wait
        checks += 1
        status, percent = snapshot_progress(now, 180.0)
        if status == "available":
            break
        wait, progress = polling.next_wait(progress, now, float(percent))
    assert checks == 2 and now - 180.0 <= 60


def test_progress_record_round_trips_through_state_data() -> None:
    progress = polling.Progress(started_at=10.0, last_checked_at=70.0, last_percent=12.5, points=((70.0, 12.5),), polls=3)
    import json

    assert polling.Progress.from_dict(json.loads(json.dumps(progress.to_dict())), started_at=0.0) == progress
    fresh = polling.Progress.from_dict(None, started_at=42.0)
    assert fresh.started_at == 42.0 and fresh.polls == 0 and not fresh.counts_from_start


def test_only_the_latest_points_are_kept() -> None:
    progress = polling.Progress(started_at=0.0, last_zero_at=0.0)
    for step in range(1, 10):
        _, progress = polling.next_wait(progress, 100.0 * step, float(step))
    assert len(progress.points) == polling.MAX_POINTS
    assert progress.points[-1] == (900.0, 9.0)


def test_fixed_wait_overrides_every_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(polling.FIXED_WAIT_ENV, "60")
    progress = polling.Progress(started_at=0.0, last_zero_at=0.0)
    assert polling.next_wait(progress, 5000.0, 0.0)[0] == 60
    assert polling.next_wait(progress, 5000.0, 50.0)[0] == 60
    assert polling.first_wait(polling.FIRST_EXPORT_WAIT_SECONDS) == 60
    monkeypatch.delenv(polling.FIXED_WAIT_ENV)
    assert polling.first_wait(polling.FIRST_EXPORT_WAIT_SECONDS) == polling.FIRST_EXPORT_WAIT_SECONDS
