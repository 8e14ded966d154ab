"""CheckExport: follow the export task; FAILED and CANCELED end the run."""

from __future__ import annotations

from typing import Any

from aurora_lake import exports, settings
from aurora_lake.handler import step_handler
from aurora_lake.observability import MetricUnit, metrics

DEFAULT_DEADLINE_SECONDS = 24 * 3600


@step_handler("CheckExport", within_deadline=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    export = exports.check(
        event["export"],
        deadline_seconds=settings.seconds("EXPORT_DEADLINE_SECONDS", DEFAULT_DEADLINE_SECONDS),
        account=(event.get("job") or {}).get("source_account"),
    )
    if export["status"] == exports.COMPLETE:
        metrics.add_metric(name="ExportDuration", unit=MetricUnit.Seconds, value=export["duration_seconds"])
        metrics.add_metric(name="ExportedGigabytes", unit=MetricUnit.Gigabytes, value=float(export.get("total_extracted_gb") or 0))
    return export
