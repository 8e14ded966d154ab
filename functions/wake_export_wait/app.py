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
    return result
