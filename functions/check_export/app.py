"""CheckExport: follow the export task; FAILED and CANCELED end the run."""

from __future__ import annotations

from typing import Any

from aurora_lake import exports, run_report, settings
from aurora_lake.handler import step_handler
from aurora_lake.observability import MetricUnit, metrics

DEFAULT_DEADLINE_SECONDS = 24 * 3600


@step_handler("CheckExport", within_deadline=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    job = event.get("job") or {}
    identifier = str(event["export"].get("export_task_identifier"))

    def keep_warning(warning_message: str) -> str:
        # RDS's WarningMessage names every skipped table: whole in the run's report, bounded in the state.
        return run_report.keep_export_warning(settings.required("EXPORT_BUCKET"), job, identifier, warning_message)

    export = exports.check(
        event["export"],
        deadline_seconds=settings.seconds("EXPORT_DEADLINE_SECONDS", DEFAULT_DEADLINE_SECONDS),
        account=job.get("source_account"),
        keep_warning=keep_warning,
    )
    if export["status"] == exports.COMPLETE:
        metrics.add_metric(name="ExportDuration", unit=MetricUnit.Seconds, value=export["duration_seconds"])
        metrics.add_metric(name="ExportedGigabytes", unit=MetricUnit.Gigabytes, value=float(export.get("total_extracted_gb") or 0))
    return export
