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
from aurora_lake.errors import AwsServiceError, WorkflowError, aws_error
from aurora_lake.limits import ERROR_MESSAGE_MAX_BYTES, cut_text, for_log
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
            logger.debug("event", extra={"event": for_log(event)})
            job = event.get("job") if isinstance(event.get("job"), dict) else None
            try:
                if within_deadline:
                    deadline.enforce(step, job)
                result = handle(event, context)
                if within_deadline and isinstance(result.get("wait_seconds"), int):
                    result["wait_seconds"] = deadline.bounded_wait(job, result["wait_seconds"])
            except ClientError as error:
                failure = aws_error(error)
                logger.error("AWS call failed", extra={"error": type(failure).__name__, "cause": for_log(str(failure))})
                raise bounded_error(failure) from error
            except Exception as error:
                logger.error("step failed", extra={"error": type(error).__name__, "cause": for_log(str(error))})
                bounded = bounded_error(error)
                if bounded is error:
                    raise
                raise bounded from error
            logger.info("step done", extra={"result": _summary(result)})
            return result

        return metrics.log_metrics(traced(wrapper))

    return decorate


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    """Scalar fields only, strings cut: results can hold lists of table names and RDS's warnings."""
    return {key: for_log(value) for key, value in result.items() if isinstance(value, (str, int, float, bool)) or value is None}


def bounded_error(error: Exception) -> Exception:
    """``error``, or one of its class with its message cut: the message becomes the step's Cause,
    which the state carries (``limits.ERROR_MESSAGE_MAX_BYTES``) and the notification shows."""
    message = str(error)
    cut = cut_text(message, ERROR_MESSAGE_MAX_BYTES, encodings=2)
    if cut == message:
        return error
    try:
        if isinstance(error, AwsServiceError):
            return type(error)(cut, error.operation, error.code)
        return type(error)(cut)
    except Exception:  # a class that takes other arguments: a plain error of the same name
        return type(type(error).__name__, (WorkflowError,), {"__module__": type(error).__module__})(cut)


def remaining_seconds(context: Any, default: float = 900.0) -> float:
    """Time left in this invocation (a context without the method gets the default)."""
    getter = getattr(context, "get_remaining_time_in_millis", None)
    return getter() / 1000.0 if callable(getter) else default
