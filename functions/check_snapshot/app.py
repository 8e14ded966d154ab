"""CheckSnapshot: read the snapshot's status and decide how long to wait."""

from __future__ import annotations

from typing import Any

from aurora_lake import settings, snapshots, sources, triggers
from aurora_lake.handler import step_handler

DEFAULT_DEADLINE_SECONDS = 4 * 3600


@step_handler("CheckSnapshot", within_deadline=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    job = event["job"]
    try:
        return snapshots.check(
            job,
            event.get("snapshot"),
            deadline_seconds=settings.seconds("SNAPSHOT_DEADLINE_SECONDS", DEFAULT_DEADLINE_SECONDS),
        )
    except sources.of_job(job).not_allowed_error as error:
        # A start by the stack's own event rule for another source's snapshot is expected.
        if not job.get("trigger"):
            raise
        return triggers.ignored(job, str(error))
