"""Failure notifications read every Cause shape AWS sends (recorded shapes, FIDELITY.md "Step Functions")."""

from __future__ import annotations

import json

import pytest

from aurora_lake import notifications
from aurora_lake.failure_causes import NO_CAUSE, cause_text

# error_handling/test_task_lambda.snapshot.json, test_raise_custom_exception (2024-11-28): the
# function ARN as Resource keeps the runtime's JSON, spaces included, and the message can be empty.
FUNCTION_ERROR = json.dumps({"errorMessage": "Some exception was raised.", "errorType": "Exception", "requestId": "r-1",
                             "stackTrace": ["  File \"/var/task/handler.py\", line 2, in handler\n"]})
EMPTY_MESSAGE = '{"errorMessage":"","errorType":"CustomException","requestId":"r-1","stackTrace":[]}'
# error_handling/test_task_service_lambda.snapshot.json, test_no_such_function (2025-11-25).
SERVICE_ERROR = ("Function not found: arn:aws:lambda:us-east-1:111111111111:function:no_such_fn:$LATEST (Service: AWSLambda; "
                 "Status Code: 404; Error Code: ResourceNotFoundException; Request ID: 5f1c; Proxy: null)")
# callback/test_callback.snapshot.json, test_start_execution_sync_delegate_failure (2023-07-05) and
# _delegate_timeout (2023-07-05): the child's DescribeExecution, with or without a Cause.
CHILD_FAILED = json.dumps({"Cause": "This state machines raises a 'SomeFailure' failure.", "Error": "SomeFailure",
                           "ExecutionArn": "arn:aws:states:us-east-1:111111111111:execution:m:TestStartTarget", "Status": "FAILED"})
CHILD_TIMED_OUT = json.dumps({"Error": "States.Timeout", "ExecutionArn": "arn:aws:states:us-east-1:111111111111:execution:m:c",
                              "Status": "TIMED_OUT"})


@pytest.mark.parametrize(
    ("cause", "text"),
    [
        (FUNCTION_ERROR, "Some exception was raised."),
        (EMPTY_MESSAGE, "CustomException (no message)"),
        (SERVICE_ERROR, SERVICE_ERROR),
        (CHILD_FAILED, "SomeFailure: This state machines raises a 'SomeFailure' failure."),
        (CHILD_TIMED_OUT, "States.Timeout"),
        # A child whose own Cause is a function error: both levels are read.
        (json.dumps({"Error": "ExportFailed", "Cause": json.dumps({"errorMessage": "KMS key check failed", "errorType": "ExportFailed"}),
                     "ExecutionArn": "arn"}), "ExportFailed: KMS key check failed"),
        ("", NO_CAUSE),  # a callback task's timeout (test_callback, test_sqs_wait_for_task_token_timeout)
        (None, NO_CAUSE),  # {"Error": null, "Cause": null} (test_sqs_failure_in_wait_for_task_tok_no_error_field)
        ("   ", NO_CAUSE),
        ('"quoted text"', "quoted text"),
        ("[1, 2]", "[1, 2]"),
        ({"errorMessage": "already parsed"}, "already parsed"),
    ],
    ids=["function-error", "empty-message", "service-error", "child-failed", "child-timed-out", "child-of-function-error",
         "empty", "null", "blank", "json-string", "json-array", "object"],
)
def test_every_recorded_cause_shape_reads_as_text(cause: object, text: str) -> None:
    assert cause_text(cause) == text


def test_a_deeply_nested_cause_stops_unwrapping_and_keeps_the_text() -> None:
    cause: object = "bottom"
    for level in range(10):
        cause = json.dumps({"Error": f"E{level}", "Cause": cause, "ExecutionArn": "arn"})
    assert cause_text(cause).startswith("E9: E8: E7: E6: ")


@pytest.mark.parametrize("cause", [SERVICE_ERROR, None, "", CHILD_TIMED_OUT])
def test_the_failure_notification_shows_the_cause_of_every_shape(cause: object) -> None:
    # The fault injected for Lambda (lambda:Invoke) arrives with the service error's plain text; a
    # timeout with an empty Cause; an error without fields with null.
    state = {"job": {"cluster_identifier": "c"}, "failure": {"step": "StartExport", "error": None, "cause": cause}}
    message = notifications.failure_message(state)
    assert f"Cause:        {cause_text(cause)}" in message["message"]
    assert message["error"] == "UnknownError" and message["cause"] == cause_text(cause)
