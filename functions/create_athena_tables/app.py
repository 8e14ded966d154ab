"""CreateAthenaTables: each exported table's export as a snapshot of its Iceberg table, in bounded batches."""

from __future__ import annotations

from typing import Any

from aurora_lake import catalog, clock
from aurora_lake.handler import remaining_seconds, step_handler
from aurora_lake.observability import MetricUnit, metrics

# Part of the invocation's time kept free, so it returns well before its timeout.
MIN_RESERVE_SECONDS = 15.0
RESERVE_FRACTION = 0.2


def work_budget(remaining: float) -> float:
    return max(remaining - max(MIN_RESERVE_SECONDS, RESERVE_FRACTION * remaining), 0.0)


@step_handler("CreateAthenaTables", within_deadline=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    deadline = clock.now() + work_budget(remaining_seconds(context))
    result = catalog.create_athena_tables(event, catalog.Settings.from_env(), deadline)
    # Once per execution: on the invocation that finishes, not on every batch.
    if result.get("done") and not (event.get("athena") or {}).get("done"):
        metrics.add_metric(name="TablesExported", unit=MetricUnit.Count, value=int(result.get("tables_created") or 0))
        metrics.add_metric(name="TablesSkipped", unit=MetricUnit.Count, value=int(result.get("tables_skipped") or 0))
        changed = (result.get("drift") or {}).get("schema") or {}
        metrics.add_metric(name="TablesChangedColumns", unit=MetricUnit.Count, value=int(changed.get("count") or 0))
    return result
