"""WakeExportWait: RDS reported an export's end; wake this stack's waits on it."""

from __future__ import annotations

from typing import Any

from aurora_lake import export_events
from aurora_lake.handler import step_handler
from aurora_lake.observability import MetricUnit, logger, metrics


@step_handler("WakeExportWait")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # No execution sends this event: its lines are found by the EventBridge event's id.
    logger.set_correlation_id(event.get("id"))
    result = export_events.wake_waits_for(event)
    metrics.add_metric(name="ExportWaitsWoken", unit=MetricUnit.Count, value=len(result["woken"]))
    if result["unreadable"]:
        metrics.add_metric(name="ExportWaitTokensUnreadable", unit=MetricUnit.Count, value=len(result["unreadable"]))
        # Never counted as spent: the event fails, is retried, then kept in the dead-letter queue.
        raise export_events.UnreadableWaitToken(f"unreadable wait tokens of export tasks {result['unreadable']}")
    return result
