"""CleanUpSnapshot / CleanUpAfterFailure: remove the snapshot this execution created.

After a success it is deleted unless the input keeps it; after a failure it is
deleted when no export can still be reading it, and otherwise the failure
notification names it. After a failure it also reads what RDS says now of the
run's export task: the notification reports that status, never the state's last one.
"""

from __future__ import annotations

from typing import Any

from aurora_lake import snapshots
from aurora_lake.handler import step_handler


@step_handler("CleanUpSnapshot")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if "failure" in event:
        return snapshots.clean_up_after_failure(
            event.get("job") or {}, event.get("snapshot"), event.get("export"), failed_step=(event.get("failure") or {}).get("step")
        )
    return snapshots.delete_if_created(event["job"], event["snapshot"])
