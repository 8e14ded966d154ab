"""CreateAthenaTables: plan the export's Athena tables, then create them in bounded batches."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from aurora_lake import catalog, clock, settings
from aurora_lake.clients import client
from aurora_lake.handler import remaining_seconds, step_handler
from aurora_lake.observability import MetricUnit, logger, metrics

# Part of the invocation's time kept free, so it returns well before its timeout.
MIN_RESERVE_SECONDS = 15.0
RESERVE_FRACTION = 0.2


def work_budget(remaining: float) -> float:
    return max(remaining - max(MIN_RESERVE_SECONDS, RESERVE_FRACTION * remaining), 0.0)


def drop_tables_of_expired_exports(event: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """Record this export, and drop the versioned tables of exports whose files are gone.

    Housekeeping: this export's tables do not depend on it, so a failure is reported in the
    step's result and logged as a warning instead of failing the run.
    """
    export_id = str((event.get("export") or {}).get("export_task_identifier") or "")
    bucket = result.get("plan_bucket") or settings.required("EXPORT_BUCKET")
    try:
        s3, glue = client("s3"), client("glue")
        catalog.record_export(s3, bucket, export_id, result["export_root"], result["database"])
        pruned = catalog.prune_expired_exports(
            s3, glue, bucket, result["database"], current_export_id=export_id, now=clock.now(),
            min_age_seconds=86400 * settings.seconds("EXPORT_EXPIRATION_DAYS", 0),
        )
    except (ClientError, catalog.RetentionError, KeyError, ValueError) as error:
        logger.warning("Tables of expired exports not dropped", extra={"error": type(error).__name__, "cause": str(error)})
        return {"error": f"{type(error).__name__}: {error}"[:300]}
    if pruned.exports_gone:
        logger.info("Tables of expired exports dropped", extra=pruned.summary())
    return pruned.summary()


@step_handler("CreateAthenaTables", within_deadline=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deadline = clock.now() + work_budget(remaining_seconds(context))
    first = not (event.get("athena") or {}).get("plan_key")
    result = catalog.create_athena_tables(event, catalog.Settings.from_env(), deadline)
    if first:  # once per run, after the plan is written
        result["retention"] = drop_tables_of_expired_exports(event, result)
    # Once per execution: on the invocation that finishes, not on every batch.
    if result.get("done") and not (event.get("athena") or {}).get("done"):
        metrics.add_metric(name="TablesExported", unit=MetricUnit.Count, value=int(result.get("tables_created") or 0))
        metrics.add_metric(name="TablesSkipped", unit=MetricUnit.Count, value=int(result.get("tables_skipped") or 0))
    return result
