"""What a Step Functions error's Cause says, in each shape AWS sends it.

The shapes, as recorded from AWS (LocalStack's AWS-validated Step Functions tests):

* a function error: JSON with ``errorMessage`` (possibly empty), ``errorType``, ``stackTrace``;
* a service error of a task: plain text, ``Function not found: ... (Service: AWSLambda; Status
  Code: 404; Error Code: ResourceNotFoundException; Request ID: ...; Proxy: null)``;
* a nested execution's failure (``startExecution.sync``): the DescribeExecution JSON, with
  ``Error`` and, unless it timed out, ``Cause``;
* a timeout: an empty Cause; an error raised without fields: ``null``.
"""

from __future__ import annotations

import json
from typing import Any

NO_CAUSE = "no cause given"
# A nested execution's Cause can hold its own nested Cause: read a few levels, then keep the text.
_MAX_DEPTH = 4


def cause_text(cause: Any, _depth: int = 0) -> str:
    """The Cause as a person reads it: the function's message, the service's text, the child's error."""
    if cause is None or (isinstance(cause, str) and not cause.strip()):
        return NO_CAUSE
    if not isinstance(cause, str):
        return _described(cause, json.dumps(cause, default=str), _depth)
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause  # a service error's plain text, or any other text: kept whole
    return _described(parsed, cause, _depth)


def _described(parsed: Any, text: str, depth: int) -> str:
    if isinstance(parsed, str):
        return parsed if parsed.strip() else NO_CAUSE
    if not isinstance(parsed, dict) or depth >= _MAX_DEPTH:
        return text
    if "errorMessage" in parsed or "errorType" in parsed:
        message = str(parsed.get("errorMessage") or "").strip()
        return message or f"{parsed.get('errorType') or 'an error'} (no message)"
    if "Error" in parsed and ("ExecutionArn" in parsed or "Cause" in parsed):
        error = parsed.get("Error") or "UnknownError"
        inner = parsed.get("Cause")
        return f"{error}: {cause_text(inner, depth + 1)}" if inner not in (None, "") else str(error)
    return text
