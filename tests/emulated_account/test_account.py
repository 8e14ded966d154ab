"""The emulated account itself, on a small fixture deployment: clock, runtime, faults, recording."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from emulated_account import EmulatedAccount
from emulated_account.account import EXISTING_SNAPSHOTS
from emulated_account.clock import DEFAULT_START


def test_six_hour_wait_runs_in_seconds_on_the_virtual_clock(fixture_template: Path) -> None:
    with EmulatedAccount(fixture_template) as account:
        started = time.monotonic()
        result = account.run({"wait_seconds": 6 * 3600})
        real_seconds = time.monotonic() - started
    assert real_seconds < 5
    assert result.status == "SUCCEEDED", result.cause
    assert result.simulated_seconds >= 6 * 3600
    assert result.states == ["Probe", "Pause", "ProbeAgain", "Done"]
    # Handlers read simulated time through aurora_lake.clock.
    assert result.output["probe"]["now"] == DEFAULT_START
    assert result.output["after"]["now"] == DEFAULT_START + 6 * 3600
    pause = next(e for e in result.state_entries if e.name == "ProbeAgain")
    assert pause.simulated_seconds == pytest.approx(6 * 3600)


def test_clock_sources_are_restored_on_exit(fixture_template: Path) -> None:
    from aurora_lake import clock
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    original_wait = WaitFunction._wait_interval
    with EmulatedAccount(fixture_template):
        assert clock.now() == DEFAULT_START
    assert abs(clock.now() - time.time()) < 5
    assert WaitFunction._wait_interval is original_wait


def test_handler_sees_the_template_environment_and_a_lambda_context(fixture_template: Path) -> None:
    with EmulatedAccount(fixture_template, parameters={"Setting": "overridden"}) as account:
        result = account.run({"wait_seconds": 0, "sleep_seconds": 4})
        bucket = account.ref("Bucket")
        function = account.functions["ProbeFunction"]
    probe = result.output["probe"]
    assert probe["setting"] == "overridden"
    assert probe["bucket"] == bucket
    assert probe["from_globals"] == "aurora-lake-us-east-1"
    assert probe["function_name"] == function.name
    assert probe["memory"] == 320  # the function's own MemorySize overrides Globals
    assert function.timeout == 10  # from Globals
    assert probe["remaining_ms"] == 6000  # 10 s timeout, 4 s slept on the virtual clock
    # The handler's own client reaches the account's RDS: the snapshots that exist before any run.
    # (Without a SnapshotType, the listing holds the manual and automated ones, not AWS Backup's.)
    assert probe["snapshots"] == sorted(
        name for cluster, name, kind in EXISTING_SNAPSHOTS if cluster == "demo-aurora-cluster" and kind != "awsbackup"
    )
    assert probe["region"] == "us-east-1"


def test_exception_surfaces_to_catch_under_its_class_name(fixture_template: Path) -> None:
    with EmulatedAccount(fixture_template) as account:
        result = account.run({"wait_seconds": 0, "raise": "it broke"})
    assert result.status == "FAILED"
    assert result.error == "Boom"
    assert "it broke" in (result.cause or "")
    assert result.states == ["Probe", "Failed"]


def test_first_calls_fail_with_the_injected_error_then_succeed(fixture_template: Path) -> None:
    with EmulatedAccount(fixture_template, faults=["rds:DescribeDBClusterSnapshots:Throttling:2"]) as account:
        result = account.run({"wait_seconds": 0})
        calls = [c for c in account.calls.calls if c.operation == "DescribeDBClusterSnapshots"]
    assert result.status == "SUCCEEDED", result.cause
    assert [c.error for c in calls] == ["Throttling", "Throttling", None, None]
    assert all(c.caller == "ProbeFunction" for c in calls)
    # Two retries of Probe: each is billed as a state transition, and back-off moved the clock (5 s, then 10 s).
    assert result.state_transitions == len(result.states) + 2
    assert result.simulated_seconds == pytest.approx(15)


def test_fault_exhausting_the_retries_is_caught(fixture_template: Path) -> None:
    with EmulatedAccount(fixture_template, faults=["rds:DescribeDBClusterSnapshots:Throttling:10"]) as account:
        result = account.run({"wait_seconds": 0})
        remaining = account.fault_plan.faults[0].remaining
    assert result.status == "FAILED"
    assert result.error == "Throttling"
    assert remaining == 6  # 1 attempt + 3 retries used 4 of the 10


def test_state_machine_invoke_fault_is_a_lambda_error(fixture_template: Path) -> None:
    with EmulatedAccount(fixture_template, faults=["lambda:Invoke:TooManyRequestsException:1"]) as account:
        result = account.run({"wait_seconds": 0})
        invokes = [c for c in account.calls.calls if c.action == "lambda:InvokeFunction"]
    assert result.status == "SUCCEEDED", result.cause
    failed = [e for e in result.history if e["type"] == "LambdaFunctionFailed"]
    assert [e["lambdaFunctionFailedEventDetails"]["error"] for e in failed] == ["Lambda.TooManyRequestsException"]
    assert {c.caller for c in invokes} == {"StateMachine"}
    assert len(invokes) == 3  # the failed attempt, its retry, ProbeAgain


def test_modelled_exception_names_map_to_wire_codes(fixture_template: Path) -> None:
    import botocore.exceptions

    with EmulatedAccount(
        fixture_template,
        faults=["rds:StartExportTask:ExportTaskAlreadyExistsFault:1", "s3:GetObject:InternalError:1"],
    ):
        import boto3

        rds = boto3.client("rds")
        with pytest.raises(rds.exceptions.ExportTaskAlreadyExistsFault) as raised:
            rds.start_export_task(ExportTaskIdentifier="x", SourceArn="arn", S3BucketName="b", IamRoleArn="r", KmsKeyId="k")
        assert raised.value.response["Error"]["Code"] == "ExportTaskAlreadyExists"
        with pytest.raises(botocore.exceptions.ClientError) as s3_error:
            boto3.client("s3").get_object(Bucket="b", Key="k")
        assert s3_error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


@pytest.mark.parametrize(
    "spec,problem",
    [
        ("rds:CreateDBClusterSnapshot:Throttling", "SERVICE:Operation:ErrorCode:COUNT"),
        ("nosuch:Op:Throttling:1", "not a boto3 client name"),
        ("rds:CreateSnapshot:Throttling:1", "has no operation"),
        ("rds:CreateDBClusterSnapshot:Throttling:two", "whole number"),
        ("rds:CreateDBClusterSnapshot:Bad Code:1", "not an error code"),
    ],
)
def test_malformed_fault_specs_are_refused(spec: str, problem: str) -> None:
    from emulated_account.faults import Fault

    with pytest.raises(ValueError, match=problem):
        Fault.parse(spec)


def test_history_read_from_the_backend_equals_get_execution_history() -> None:
    """EmulatedAccount.history skips moto's serializer and botocore's parser: it must return what they would.

    A run that succeeds (Lambda tasks, a callback task, SDK integrations, waits), one that
    fails, and a fleet run (a Map state starting executions of the export state machine).
    """
    import io

    with EmulatedAccount(handler_output=io.StringIO()) as account:
        runs = [
            account.run({"cluster_identifier": "demo-aurora-cluster"}),
            account.run({"cluster_identifier": "forbidden-cluster"}),
            account.run_fleet({"cluster_identifiers": ["demo-mysql-cluster", "forbidden-cluster"]}),
        ]
        sfn = account.client("stepfunctions")
        for result in runs:
            returned = sfn.get_execution_history(executionArn=result.execution_arn, maxResults=1000)
            assert "nextToken" not in returned
            assert account.history(result.execution_arn) == returned["events"] == result.history
            # The same types and time zones too (aware datetimes of other zones compare equal).
            assert repr(result.history) == repr(returned["events"])
            assert all(type(event["type"]) is str for event in result.history)
    assert [result.status for result in runs] == ["SUCCEEDED", "FAILED", "FAILED"]


@pytest.mark.parametrize("text", ["2026-11-02T03:00:00Z", "2026-11-02T03:00:00.000Z", "2026-11-02T03:00:01.5Z",
                                  "2026-11-02T03:00:01.123456Z", "2026-11-02T03:00:01.999999Z", "2026-11-02T03:00:00+00:00"])
def test_history_timestamps_are_read_as_moto_and_botocore_read_them(text: str) -> None:
    from botocore.utils import parse_timestamp, parse_to_aware_datetime
    from moto.core.serialize import TimestampSerializer

    from emulated_account.account import _returned_timestamp

    slow = parse_timestamp(TimestampSerializer._timestamp_unixtimestamp(parse_to_aware_datetime(text)))
    assert repr(_returned_timestamp(text)) == repr(slow)


def test_an_execution_is_ended_only_once_moto_has_recorded_its_output(fixture_template: Path) -> None:
    """Moto's execution thread sets the status before the output: waiting on the status alone
    returned SUCCEEDED executions without output on a loaded machine."""
    from unittest import mock

    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, ExecutionStatus

    original = BaseExecutionWorkerCommunication._reflect_execution_status

    def status_long_before_output(communication: BaseExecutionWorkerCommunication) -> None:
        communication.execution.exec_status = ExecutionStatus.SUCCEEDED
        time.sleep(0.3)  # the window a busy machine opens between the two assignments
        original(communication)

    with mock.patch.object(BaseExecutionWorkerCommunication, "_reflect_execution_status", status_long_before_output):
        with EmulatedAccount(fixture_template) as account:
            result = account.run({"wait_seconds": 0})

    assert result.status == "SUCCEEDED"
    assert result.output is not None
