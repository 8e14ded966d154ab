"""The wrapper every Lambda handler uses: logging, tracing, metrics, errors.

It keeps handlers thin and makes every function behave the same way:
- the execution name is the correlation id of every log line;
- the full event is logged only at DEBUG level (it can name tables);
- an AWS ClientError leaves the function as an error named after its AWS error
  code, so the state machine's Retry and Catch can match it by name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from aurora_lake import deadline
from aurora_lake.errors import aws_error
from aurora_lake.observability import logger, metrics, traced, use_stack_dimension

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def execution_name(event: dict[str, Any]) -> str | None:
    """The Step Functions execution name, wherever this step's event carries it."""
    for holder in (event, event.get("job"), (event.get("state") or {}).get("job")):
        if isinstance(holder, dict) and isinstance(holder.get("execution_name"), str):
            return holder["execution_name"]
    return None


def step_handler(step: str, *, within_deadline: bool = False) -> Callable[[Handler], Handler]:
    """``within_deadline``: the step fails once the run's deadline has passed, and never asks
    for a wait that ends after it (the steps that wait; clean-up and notification always run)."""

    def decorate(handle: Handler) -> Handler:
        @functools.wraps(handle)
        def wrapper(event: dict[str, Any], context: Any) -> dict[str, Any]:
            logger.append_keys(step=step)
            logger.set_correlation_id(execution_name(event))
            use_stack_dimension()
            logger.debug("event", extra={"event": event})
            job = event.get("job") if isinstance(event.get("job"), dict) else None
            try:
                if within_deadline:
                    deadline.enforce(step, job)
                result = handle(event, context)
                if within_deadline and isinstance(result.get("wait_seconds"), int):
                    result["wait_seconds"] = deadline.bounded_wait(job, result["wait_seconds"])
            except ClientError as error:
                failure = aws_error(error)
                logger.error("AWS call failed", extra={"error": type(failure).__name__, "cause": str(failure)})
                raise failure from error
            except Exception as error:
                logger.error("step failed", extra={"error": type(error).__name__, "cause": str(error)})
                raise
            logger.info("step done", extra={"result": _summary(result)})
            return result

        return metrics.log_metrics(traced(wrapper))

    return decorate


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    """Scalar fields only: results can hold lists of table names."""
    return {key: value for key, value in result.items() if isinstance(value, (str, int, float, bool)) or value is None}


def remaining_seconds(context: Any, default: float = 900.0) -> float:
    """Time left in this invocation (a context without the method gets the default)."""
    getter = getattr(context, "get_remaining_time_in_millis", None)
    return getter() / 1000.0 if callable(getter) else default
