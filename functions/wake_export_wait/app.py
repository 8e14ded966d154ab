"""WakeExportWait: RDS reported an export's end; wake this stack's waits on it."""

from __future__ import annotations

from typing import Any

from aurora_lake import export_events, naming
from aurora_lake.handler import step_handler
from aurora_lake.observability import MetricUnit, logger, metrics


@step_handler("WakeExportWait")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # No execution sends this event: its lines are found by the EventBridge event's id.
    logger.set_correlation_id(event.get("id"))
    result = export_events.wake_waits_for(event, lake_account=_own_account(context))
    if result.get("ignored_account"):
        metrics.add_metric(name="ExportEventsIgnored", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ExportWaitsWoken", unit=MetricUnit.Count, value=len(result["woken"]))
    if result["unreadable"]:
        metrics.add_metric(name="ExportWaitTokensUnreadable", unit=MetricUnit.Count, value=len(result["unreadable"]))
        # Never counted as spent: the event fails, is retried, then kept in the dead-letter queue.
        raise export_events.UnreadableWaitToken(f"unreadable wait tokens of export tasks {result['unreadable']}")
    return result


def _own_account(context: Any) -> str | None:
    """The lake's account: the function's own ARN names it."""
    try:
        return naming.split_arn(str(getattr(context, "invoked_function_arn", ""))).account or None
    except ValueError:
        return None
