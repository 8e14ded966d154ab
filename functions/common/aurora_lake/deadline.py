"""The run's own deadline, which comes before the execution's.

Step Functions ends an execution that reaches its ``TimeoutSeconds`` as TIMED_OUT: no Catch
runs, so nothing cleans up and nothing notifies. The run therefore keeps a deadline of its
own, an hour earlier (ValidateInput stores it in the job): the waiting steps never wait past
it, and a step that starts after it fails with ``WorkflowDeadlineReached``, which the state
machine catches like any failure: the snapshot is cleaned up and the failure notified within
the hour left.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from aurora_lake import clock
from aurora_lake.errors import WorkflowDeadlineReached

# TimeoutSeconds of statemachine/export_to_data_lake.asl.json (a template test keeps them equal).
EXECUTION_TIMEOUT_SECONDS = 48 * 3600
# Clean-up and notification after the deadline: their retries take minutes, a late poll or
# retry interval at most a quarter of an hour.
CLEAN_UP_MARGIN_SECONDS = 3600
DEFAULT_SECONDS = EXECUTION_TIMEOUT_SECONDS - CLEAN_UP_MARGIN_SECONDS
# The shortest wait before the check that reports the deadline.
MIN_WAIT_SECONDS = 1


def deadline_epoch(started_epoch: float, seconds: float = DEFAULT_SECONDS) -> float:
    return started_epoch + seconds


def enforce(step: str, job: Mapping[str, Any] | None) -> None:
    """Fail the step when the run's deadline has passed (a job without one has none)."""
    deadline = (job or {}).get("deadline_epoch")
    if deadline is None:
        return
    now = clock.now()
    if now >= float(deadline):
        started = float(job.get("started_epoch") or now) if job else now
        raise WorkflowDeadlineReached(
            f"The run reached its deadline at {step}, {int((now - started) // 3600)} h after it started "
            f"(deadline {int((float(deadline) - started) // 3600)} h, an hour before Step Functions would "
            "end the execution without clean-up). Whatever it waited for is left as it is: the notification "
            "names any snapshot kept; a running export keeps running in RDS (cancel it with "
            "`aws rds cancel-export-task`). Lower SnapshotTimeoutSeconds or ExportTimeoutSeconds, or export "
            "fewer tables at once."
        )


def bounded_wait(job: Mapping[str, Any] | None, wait_seconds: int) -> int:
    """The wait, cut so that the next check comes no later than the deadline."""
    deadline = (job or {}).get("deadline_epoch")
    if deadline is None or wait_seconds <= 0:
        return wait_seconds
    return max(MIN_WAIT_SECONDS, min(wait_seconds, math.ceil(float(deadline) - clock.now())))
