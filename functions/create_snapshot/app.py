"""CreateSnapshot: take this execution's manual snapshot of the cluster or DB instance (or adopt it)."""

from __future__ import annotations

from typing import Any

from aurora_lake import snapshots
from aurora_lake.handler import step_handler


@step_handler("CreateSnapshot", within_deadline=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return snapshots.create_or_adopt(event["job"])
