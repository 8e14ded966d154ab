"""The emulated account's Distributed Map: items read from S3, result files written as Step Functions
writes them, and a map run that fails past its tolerated failures (FIDELITY.md, Step Functions)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from emulated_account import EmulatedAccount
from emulated_account.distributed_map import threshold_exceeded


def _run(emulated: EmulatedAccount, tolerance: dict[str, Any]) -> tuple[Any, Any]:
    s3, sfn = emulated.client("s3"), emulated.client("stepfunctions")
    bucket = emulated.bucket
    s3.put_object(Bucket=bucket, Key="runs/items.json", Body=json.dumps([{"n": 1}, {"n": 2}, {"n": 3}]).encode())
    definition = {"StartAt": "Map", "States": {"Map": {
        "Type": "Map",
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
                       "Parameters": {"Bucket": bucket, "Key.$": "$.key"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Check", "States": {
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 2, "Next": "Fail"}], "Default": "Done"},
            "Done": {"Type": "Pass", "Parameters": {"doubled.$": "States.MathAdd($.n, $.n)"}, "End": True},
            "Fail": {"Type": "Fail", "Error": "Two", "Cause": "two is refused"}}},
        "Label": "items",
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                         "Parameters": {"Bucket": bucket, "Prefix.$": "States.Format('runs/{}/results', $$.Execution.Name)"}},
        **tolerance,
        "End": True,
    }}}
    arn = sfn.create_state_machine(name=f"map-{len(tolerance)}", definition=json.dumps(definition),
                                   roleArn=emulated.state_machine_role_arn)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name="run-1", input=json.dumps({"key": "runs/items.json"}))["executionArn"]
    result = emulated.wait(execution)
    return result, s3


def test_the_result_files_hold_every_child_by_status_and_the_manifest_lists_them() -> None:
    with EmulatedAccount() as emulated:
        result, s3 = _run(emulated, {"ToleratedFailurePercentage": 50.0})
        details = result.output["ResultWriterDetails"]
        manifest = json.loads(s3.get_object(Bucket=details["Bucket"], Key=details["Key"])["Body"].read())
        files = {status: [json.loads(s3.get_object(Bucket=details["Bucket"], Key=f["Key"])["Body"].read()) for f in listed]
                 for status, listed in manifest["ResultFiles"].items()}
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    map_run_id = result.output["MapRunArn"].rsplit(":", 1)[1]
    assert details["Key"] == f"runs/run-1/results/{map_run_id}/manifest.json"
    assert result.output["MapRunArn"].split(":")[5] == "mapRun" and "/items:" in result.output["MapRunArn"]
    assert manifest["DestinationBucket"] == details["Bucket"] and manifest["MapRunArn"] == result.output["MapRunArn"]
    assert set(manifest["ResultFiles"]) == {"FAILED", "PENDING", "SUCCEEDED"} and manifest["ResultFiles"]["PENDING"] == []
    [succeeded], [failed] = files["SUCCEEDED"], files["FAILED"]
    assert sorted(json.loads(entry["Output"])["doubled"] for entry in succeeded) == [2, 6]
    assert all(entry["Status"] == "SUCCEEDED" and json.loads(entry["Input"])["n"] in (1, 3) for entry in succeeded)
    [two] = failed
    assert (two["Status"], two["Error"], two["Cause"], json.loads(two["Input"])) == ("FAILED", "Two", "two is refused", {"n": 2})
    assert "Output" not in two and two["ExecutionArn"].split(":")[5] == "execution" and "/items:" in two["ExecutionArn"]


def test_a_map_run_past_its_tolerated_failures_fails() -> None:
    with EmulatedAccount() as emulated:
        default, _ = _run(emulated, {})
    assert (default.status, default.error) == ("FAILED", "States.ExceedToleratedFailureThreshold"), default.cause


@pytest.mark.parametrize(("failed", "total", "count", "percentage", "exceeded"), [
    (0, 3, 0, 0.0, False), (1, 3, 0, 0.0, True), (1, 3, 1, 0.0, False), (2, 3, 1, 0.0, True),
    (1, 3, 0, 50.0, False), (2, 3, 0, 50.0, True), (3, 3, 0, 100.0, False),
])
def test_the_tolerance_counts_failures_as_step_functions_does(failed: int, total: int, count: int, percentage: float, exceeded: bool) -> None:
    assert threshold_exceeded(failed, total, count, percentage) is exceeded
