"""The wrapper every Lambda handler uses: logging, tracing, metrics, errors.

It keeps handlers thin and makes every function behave the same way:
- the execution name is the correlation id of every log line;
- the full event is logged only at DEBUG level (it can name tables);
- an AWS ClientError leaves the function as an error named after its AWS error
  code, so the state machine's Retry and Catch can match it by name.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from aurora_lake import deadline
from aurora_lake.errors import AwsServiceError, StateBudgetExceeded, WorkflowError, aws_error
from aurora_lake.limits import ERROR_MESSAGE_MAX_BYTES, STATE_LIMIT_BYTES, STEP_RESULT_MAX_BYTES, cut_text, encoded_size, for_log
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
                _within_share(step, result)
            except ClientError as error:
                failure = aws_error(error)
                logger.error("AWS call failed", extra={"error": type(failure).__name__, "cause": for_log(str(failure))})
                raise bounded_error(failure) from error
            except Exception as error:
                logger.error("step failed", extra={"error": type(error).__name__, "cause": for_log(str(error))})
                # Raised afresh, whatever its size: the Lambda runtime's stack trace (part of the
                # Cause the state carries) then holds only the frames from the handler's entry to here.
                raise bounded_error(error, always_new=True) from error
            logger.info("step done", extra={"result": _summary(result)})
            return result

        wrapped = metrics.log_metrics(traced(wrapper))
        wrapped.step = step  # type: ignore[attr-defined]  # which share of the state the step's result has
        return wrapped

    return decorate


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    """Scalar fields only, strings cut: results can hold lists of table names and RDS's warnings."""
    return {key: for_log(value) for key, value in result.items() if isinstance(value, (str, int, float, bool)) or value is None}


def _within_share(step: str, result: dict[str, Any]) -> None:
    """StateBudgetExceeded when the result would take more than the step's share of the state."""
    share = STEP_RESULT_MAX_BYTES.get(step)
    if share is None:
        return
    size = encoded_size(result)
    if size > share:
        raise StateBudgetExceeded(
            f"Step {step} returned {size} bytes, more than its {share}-byte share of the run's state "
            f"(Step Functions holds {STATE_LIMIT_BYTES} bytes per state); the run stops here, cleaned up and "
            "notified, instead of failing uncaught at Step Functions' limit."
        )


def bounded_error(error: Exception, always_new: bool = False) -> Exception:
    """``error``, or one of its class with its message cut: the message becomes the step's Cause,
    which the state carries (``limits.ERROR_MESSAGE_MAX_BYTES``) and the notification shows.
    ``always_new``: a new error even when the message fits (a short stack trace)."""
    message = str(error)
    cut = cut_text(message, ERROR_MESSAGE_MAX_BYTES, encodings=2)
    if cut == message and not always_new:
        return error
    try:
        fresh = type(error)(cut, error.operation, error.code) if isinstance(error, AwsServiceError) else type(error)(cut)
    except Exception:  # a class that takes other arguments: a plain error of the same name
        fresh = type(type(error).__name__, (WorkflowError,), {"__module__": type(error).__module__})(cut)
    with contextlib.suppress(AttributeError, TypeError):
        fresh.__dict__.update(error.__dict__)  # what callers read besides the message (InvalidInput.problems)
    return fresh


def remaining_seconds(context: Any, default: float = 900.0) -> float:
    """Time left in this invocation (a context without the method gets the default)."""
    getter = getattr(context, "get_remaining_time_in_millis", None)
    return getter() / 1000.0 if callable(getter) else default
