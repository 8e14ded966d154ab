"""AWS's size limits, the share of them each part of a run may use, and the helpers that keep to it.

Values that grow with the database or the input (export_only, RDS's WarningMessage, skipped
tables, causes) are bounded wherever they travel: in the Step Functions state (256 KiB per
state's input or output, ``States.DataLimitExceeded`` beyond, which ``States.ALL`` does not
catch), in the notification (SNS: 256 KB per message, 100 characters of subject) and in the
logs. The full value goes to the run's report in S3 (``run_report``) and the notification names it.

Sizes are measured the strict way: the compact JSON of a value with every non-ASCII character
escaped (``\\uXXXX``), which is never smaller than its UTF-8 text, whichever of the two forms
Step Functions counts.

The state budget: the job (the validated input, ``export_only`` included) may take
``JOB_MAX_BYTES``; everything the run adds to it (snapshot, export, tables, clean-up, errors,
notification) stays within ``RUN_STATE_MAX_BYTES``. ``tests/scenarios/test_state_limits.py``
measures both from the handlers' real outputs at every validation limit, for every state of
the definition.
"""

from __future__ import annotations

import json
from typing import Any

# Step Functions: a state's input or output, as a UTF-8 string (Step Functions quotas).
STATE_LIMIT_BYTES = 256 * 1024
# SNS: a message's size and a subject's length (SNS Publish API reference).
SNS_MESSAGE_LIMIT_BYTES = 256 * 1024
SNS_SUBJECT_LIMIT = 100

# What a run adds to the job, at most: the sum of the shares below over the parts a state can
# hold together (tests/scenarios/test_state_limits.py adds them up for every state of the definition).
RUN_STATE_MAX_BYTES = 56 * 1024
# The job's share: whatever the run adds, the state then still fits (ValidateInput refuses more).
JOB_MAX_BYTES = STATE_LIMIT_BYTES - RUN_STATE_MAX_BYTES

# Each step's result, at most: the step fails with StateBudgetExceeded (caught, cleaned up and
# notified) rather than hand Step Functions a state it cannot hold (uncaught DataLimitExceeded).
STEP_RESULT_MAX_BYTES = {
    "CreateSnapshot": 4 * 1024,
    "CheckSnapshot": 4 * 1024,
    "StartExport": 6 * 1024,
    "CheckExport": 6 * 1024,
    "CreateAthenaTables": 12 * 1024,
    "CleanUpSnapshot": 3 * 1024,
}

# An error message (the Cause of a failed step), as the state holds it: a Lambda error's Cause
# is its JSON text held in a JSON string, so the message is measured encoded twice.
ERROR_MESSAGE_MAX_BYTES = 4_000
# A caught error in the state ({"Error", "Cause"}): the message above, the error's name (at most
# 256 characters in Step Functions) and the Lambda runtime's stack trace (the few frames between the
# handler's entry and the step wrapper, which raises every error afresh), with room to spare.
ERROR_OBJECT_MAX_BYTES = 8 * 1024
# RDS's WarningMessage kept in the state when it is longer (the whole text goes to the report).
WARNING_MESSAGE_MAX_BYTES = 1_000
# Lines of a warning or of skipped tables named in the state and the notification, each cut.
LINES_IN_STATE = 5
LINE_MAX_BYTES = 300
# Strings in log lines (results, causes): the logs are read by people, the report keeps the rest.
LOG_TEXT_MAX_CHARACTERS = 1_000
LOG_LIST_ITEMS = 20


def encoded_size(value: Any) -> int:
    """Bytes of ``value`` as compact JSON with every non-ASCII character escaped (the larger reading)."""
    return len(json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=str))


def _marker(rest: int) -> str:
    return f"...[{rest} more characters]"


def cut_text(text: str, max_bytes: int, encodings: int = 1) -> str:
    """``text``, cut with a marker so that, JSON-encoded ``encodings`` times, it takes at most ``max_bytes``.

    ``encodings=2`` measures a text that travels inside a JSON document held as a string (a
    Lambda error's Cause). Never raises; a text that fits is returned unchanged.
    """
    text = "" if text is None else str(text)

    def size(candidate: str) -> int:
        value: Any = candidate
        for _ in range(encodings):
            value = json.dumps(value, ensure_ascii=True)
        return len(value) - 2  # the quotes of the outer string

    if size(text) <= max_bytes:
        return text
    # The longest prefix that fits, found by bisection (the size grows with the prefix); every
    # character takes at least one byte, so no prefix longer than max_bytes can fit.
    low, high = 0, min(len(text), max_bytes)
    while low < high:
        middle = (low + high + 1) // 2
        if size(text[:middle] + _marker(len(text) - middle)) <= max_bytes:
            low = middle
        else:
            high = middle - 1
    return text[:low] + _marker(len(text) - low)


def bounded_lines(lines: list[str], max_lines: int = LINES_IN_STATE, max_bytes: int = LINE_MAX_BYTES) -> list[str]:
    """The first ``max_lines`` lines, each cut to ``max_bytes``; the caller keeps the count of the rest."""
    return [cut_text(line, max_bytes) for line in lines[:max_lines]]


def for_log(value: Any, depth: int = 0) -> Any:
    """``value`` for one log line: long strings cut, long lists shortened with their count."""
    if isinstance(value, str):
        return value if len(value) <= LOG_TEXT_MAX_CHARACTERS else value[:LOG_TEXT_MAX_CHARACTERS] + _marker(len(value) - LOG_TEXT_MAX_CHARACTERS)
    if isinstance(value, dict):
        return {key: for_log(item, depth + 1) for key, item in value.items()} if depth < 6 else "{...}"
    if isinstance(value, (list, tuple)):
        shown = [for_log(item, depth + 1) for item in value[:LOG_LIST_ITEMS]] if depth < 6 else []
        if len(value) > len(shown):
            shown.append(f"...[{len(value) - len(shown)} more items]")
        return shown
    return value
