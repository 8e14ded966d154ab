"""CleanUpSnapshot: delete the snapshot this execution created, unless kept."""

from __future__ import annotations

from typing import Any

from aurora_lake import snapshots
from aurora_lake.handler import step_handler


@step_handler("CleanUpSnapshot")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return snapshots.delete_if_created(event["job"], event["snapshot"])
