"""The export progress model that the simulator, the bench and the scenarios share."""

from __future__ import annotations

import pytest

from emulated_account.rds_sim import export_progress, snapshot_progress

DURATION = 1000.0


@pytest.mark.parametrize("elapsed", [0, 1, 100, 199.9])
def test_starting_with_zero_progress_for_the_first_fifth(elapsed: float) -> None:
    assert export_progress(elapsed, DURATION) == ("STARTING", 0)


def test_in_progress_after_the_first_fifth() -> None:
    status, percent = export_progress(200, DURATION)
    assert status == "IN_PROGRESS"
    assert percent == 0


def test_ninety_percent_at_seventy_percent_of_the_time() -> None:
    assert export_progress(700, DURATION) == ("IN_PROGRESS", 90)
    assert export_progress(699, DURATION)[1] < 90


def test_the_last_tenth_of_progress_takes_the_last_thirty_percent_of_time() -> None:
    early_rate = (export_progress(600, DURATION)[1] - export_progress(300, DURATION)[1]) / 300
    late_rate = (export_progress(990, DURATION)[1] - export_progress(700, DURATION)[1]) / 290
    assert late_rate < early_rate / 4  # slows down toward the end
    assert export_progress(999.9, DURATION) == ("IN_PROGRESS", 99)


def test_complete_at_the_duration_and_after() -> None:
    assert export_progress(1000, DURATION) == ("COMPLETE", 100)
    assert export_progress(5000, DURATION) == ("COMPLETE", 100)


def test_progress_never_decreases() -> None:
    values = [export_progress(t, DURATION)[1] for t in range(0, 1001, 5)]
    assert values == sorted(values)


def test_snapshot_creating_then_available() -> None:
    assert snapshot_progress(0, 180) == ("creating", 0)
    assert snapshot_progress(90, 180) == ("creating", 50)
    assert snapshot_progress(180, 180) == ("available", 100)
