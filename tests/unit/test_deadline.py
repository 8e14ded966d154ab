"""The run's own deadline: enforced by the waiting steps, and no wait ends after it."""

from __future__ import annotations

import pytest

from aurora_lake import clock, deadline
from aurora_lake.errors import WorkflowDeadlineReached

START = 1_800_000_000.0


@pytest.fixture
def at() -> object:
    now = [START]
    clock.use_time_source(lambda: now[0], lambda seconds: None)
    yield now
    clock.use_real_time()


def _job() -> dict[str, float]:
    return {"started_epoch": START, "deadline_epoch": deadline.deadline_epoch(START)}


def test_the_deadline_comes_an_hour_before_the_execution_timeout() -> None:
    assert deadline.deadline_epoch(START) == START + 47 * 3600
    assert deadline.EXECUTION_TIMEOUT_SECONDS - deadline.DEFAULT_SECONDS == 3600


def test_a_step_after_the_deadline_fails_naming_it(at: list[float]) -> None:
    at[0] = START + 47 * 3600 - 1
    deadline.enforce("CheckExport", _job())
    at[0] = START + 47 * 3600
    with pytest.raises(WorkflowDeadlineReached, match="deadline at CheckExport, 47 h after it started"):
        deadline.enforce("CheckExport", _job())


def test_a_job_without_a_deadline_has_none(at: list[float]) -> None:
    at[0] = START + 10 * 24 * 3600
    deadline.enforce("CheckExport", {"started_epoch": START})
    assert deadline.bounded_wait({}, 900) == 900


@pytest.mark.parametrize(("seconds_left", "wait", "expected"), [
    (10_000, 900, 900),  # far from the deadline: unchanged
    (600, 900, 600),  # the next check comes at the deadline
    (0.2, 900, 1),  # at least a second
    (-50, 900, 1),
    (600, 0, 0),  # complete: no wait at all
])
def test_waits_end_no_later_than_the_deadline(at: list[float], seconds_left: float, wait: int, expected: int) -> None:
    at[0] = START + deadline.DEFAULT_SECONDS - seconds_left
    assert deadline.bounded_wait(_job(), wait) == expected
