"""CheckSnapshot: read the snapshot's status and decide how long to wait."""

from __future__ import annotations

from typing import Any

from aurora_lake import settings, snapshots, triggers
from aurora_lake.errors import ClusterNotAllowed
from aurora_lake.handler import step_handler

DEFAULT_DEADLINE_SECONDS = 4 * 3600


@step_handler("CheckSnapshot", within_deadline=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        return snapshots.check(
            event["job"],
            event.get("snapshot"),
            deadline_seconds=settings.seconds("SNAPSHOT_DEADLINE_SECONDS", DEFAULT_DEADLINE_SECONDS),
            allowed_clusters=settings.allowed_clusters(),
        )
    except ClusterNotAllowed as error:
        # A start by the stack's own event rule for another cluster's snapshot is expected.
        if not event["job"].get("trigger"):
            raise
        return triggers.ignored(event["job"], str(error))
