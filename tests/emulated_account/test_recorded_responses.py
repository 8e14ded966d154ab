"""The emulated account answers as AWS's recorded responses do (Step Functions integrations, S3, SNS).

Recorded values: LocalStack's AWS-validated snapshots (FIDELITY.md, "Step Functions", cites each
file, test and date). Each probe runs a small state machine in the emulated account.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from emulated_account import EmulatedAccount, sfn_integrations
from emulated_account.sfn_integrations import UnknownParameterForm, serialise

ROLE = "arn:aws:iam::123456789012:role/probe"
# test_aws_sdk_task_service.snapshot.json, test_s3_put_object[str|dict|list|bool|num], 2025-11-06.
RECORDED_PUT_OBJECT = [
    ("text data", b'"text data"'),
    ({"Dict": "Value"}, b'{"Dict":"Value"}'),
    (["List", "Data"], b'["List","Data"]'),
    (False, b"false"),
    (0, b"0"),
]


def put_object_machine(body: Any) -> dict[str, Any]:
    return {
        "StartAt": "Put",
        "States": {
            "Put": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                "Parameters": {"Bucket.$": "$.Bucket", "Key.$": "$.Key", "Body": body},
                "End": True,
            }
        },
    }


def run_machine(account: EmulatedAccount, definition: dict[str, Any], execution_input: dict[str, Any]) -> Any:
    sfn = account.client("stepfunctions")
    arn = sfn.create_state_machine(name=f"probe-{len(account.state_machine_arns)}-{abs(hash(json.dumps(definition))) % 10**8}",
                                   definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    return account.wait(sfn.start_execution(stateMachineArn=arn, input=json.dumps(execution_input))["executionArn"])


@pytest.mark.parametrize(("body", "stored"), RECORDED_PUT_OBJECT, ids=["str", "dict", "list", "bool", "num"])
def test_put_object_stores_a_body_of_any_json_type_as_its_json_text(fixture_template: Path, body: Any, stored: bytes) -> None:
    with EmulatedAccount(fixture_template) as account:
        s3 = account.client("s3")
        s3.create_bucket(Bucket="probe-bucket")
        result = run_machine(account, put_object_machine(body), {"Bucket": "probe-bucket", "Key": "k"})
        found = s3.get_object(Bucket="probe-bucket", Key="k")
        content = found["Body"].read()
    assert result.status == "SUCCEEDED", result.cause
    assert content == stored
    assert found["ContentLength"] == len(stored)
    assert found["ContentType"] == "text/plain; charset=UTF-8"


def test_a_body_taken_from_a_path_is_serialised_the_same_way(fixture_template: Path) -> None:
    definition = put_object_machine(None)
    del definition["States"]["Put"]["Parameters"]["Body"]
    definition["States"]["Put"]["Parameters"]["Body.$"] = "$.Body"
    with EmulatedAccount(fixture_template) as account:
        s3 = account.client("s3")
        s3.create_bucket(Bucket="probe-bucket")
        run_machine(account, definition, {"Bucket": "probe-bucket", "Key": "k", "Body": "AQB8token"})
        assert s3.get_object(Bucket="probe-bucket", Key="k")["Body"].read() == b'"AQB8token"'


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"Bucket": "b", "Key": "k", "Body": None}, "Body: no recording"),
        ({"Bucket": "b", "Key": "k", "Body": 1.5}, "Body: no recording"),
        ({"Bucket": "b", "Key": "k", "Body": "x", "Colour": "red"}, "Colour: not a member of PutObjectRequest"),
        ({"Bucket": "b", "key": "k", "Body": "x"}, "key: not a member"),
        ({"Bucket": "b", "Key": "k", "Body": "x", "Expires": "2026-01-01"}, "Expires: no recording shows this form"),
        ({"Bucket": "b", "Key": "k", "Body": "x", "ContentLength": "5"}, "ContentLength: no recording shows this form"),
        ({"Bucket": ["b"], "Key": "k", "Body": "x"}, "Bucket: no recording shows how AWS sends this value as a string"),
    ],
)
def test_a_parameter_form_no_recording_shows_is_refused_naming_it(parameters: dict[str, Any], message: str) -> None:
    with pytest.raises(UnknownParameterForm, match=message):
        serialise("s3", "put_object", parameters)


def test_an_unknown_form_fails_the_run_even_when_the_state_machine_catches_it(fixture_template: Path) -> None:
    definition = put_object_machine(None)
    definition["States"]["Put"]["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
    definition["States"]["Caught"] = {"Type": "Succeed"}
    with EmulatedAccount(fixture_template) as account:
        account.client("s3").create_bucket(Bucket="probe-bucket")
        with pytest.raises(UnknownParameterForm, match="Body: no recording"):
            run_machine(account, definition, {"Bucket": "probe-bucket", "Key": "k"})


def test_start_execution_input_object_is_sent_as_compact_json_text() -> None:
    # callback/test_callback.snapshot.json, test_start_execution_sync_delegate_timeout (2023-07-05):
    # the child's Input is "{\"Payload\":null}".
    request = serialise("stepfunctions", "start_execution", {"StateMachineArn": "arn", "Input": {"Payload": None}, "Name": "n"})
    assert request == {"stateMachineArn": "arn", "input": '{"Payload":null}', "name": "n"}


def test_aws_sdk_errors_are_named_by_service_id() -> None:
    # error_handling/test_aws_sdk.snapshot.json: S3.NoSuchKeyException (2025-01-22),
    # SecretsManager.SecretsManagerException (2023-06-22).
    assert sfn_integrations.sdk_error_name("s3", "NoSuchKey") == "S3.NoSuchKeyException"
    assert sfn_integrations.sdk_error_name("s3", "ClientError") == "S3.S3Exception"
    assert sfn_integrations.sdk_error_name("secretsmanager", "ClientError") == "SecretsManager.SecretsManagerException"


def test_s3_errors_of_an_aws_sdk_task_carry_the_recorded_name_and_cause(fixture_template: Path) -> None:
    definition = {
        "StartAt": "Get",
        "States": {"Get": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                           "Parameters": {"Bucket": "probe-bucket", "Key": "missing"}, "End": True}},
    }
    with EmulatedAccount(fixture_template) as account:
        account.client("s3").create_bucket(Bucket="probe-bucket")
        result = run_machine(account, definition, {})
    assert result.status == "FAILED"
    assert result.error == "S3.NoSuchKeyException"
    assert result.cause.startswith("The specified key does not exist. (Service: S3, Status Code: 404, Request ID: ")


def test_a_lambda_service_error_has_the_recorded_plain_text_cause(fixture_template: Path) -> None:
    # error_handling/test_task_service_lambda.snapshot.json, test_no_such_function (2025-11-25).
    with EmulatedAccount(fixture_template, faults=["lambda:Invoke:ResourceNotFoundException:10"]) as account:
        result = account.run({"wait_seconds": 0})
    assert result.status == "FAILED"
    assert result.error == "Lambda.ResourceNotFoundException"
    assert result.cause.endswith("; Proxy: null)")
    assert "(Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: " in result.cause
    with pytest.raises(ValueError):
        json.loads(result.cause)


def test_a_function_error_cause_is_the_payload_as_the_function_returned_it(fixture_template: Path) -> None:
    # error_handling/test_task_lambda.snapshot.json, test_raise_custom_exception (2024-11-28): with the
    # function ARN as Resource the Cause keeps the runtime's JSON, spaces included.
    with EmulatedAccount(fixture_template) as account:
        result = account.run({"wait_seconds": 0, "raise": "as asked"})
    assert result.status == "FAILED", result.cause
    assert result.cause.startswith('{"errorMessage": ')
    assert json.loads(result.cause)["errorType"] == result.error


@pytest.mark.parametrize(("value", "status", "error"), [(0, "SUCCEEDED", None), (1, "SUCCEEDED", None), ("NoNumber", "FAILED", "States.Runtime")])
def test_max_concurrency_path_as_recorded(fixture_template: Path, value: Any, status: str, error: str | None) -> None:
    # scenarios/test_base_scenarios.snapshot.json, test_max_concurrency_path[0|1|NoNumber] (2024-06-19).
    definition = {
        "StartAt": "MapState",
        "States": {"MapState": {"Type": "Map", "ItemsPath": "$.Values", "MaxConcurrencyPath": "$.MaxConcurrencyValue",
                                "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
                                "End": True}},
    }
    with EmulatedAccount(fixture_template) as account:
        result = run_machine(account, definition, {"Values": ["a", "b"], "MaxConcurrencyValue": value})
    assert (result.status, result.error) == (status, error)


def test_a_callback_wait_that_times_out_is_states_timeout_with_an_empty_cause(fixture_template: Path) -> None:
    # callback/test_callback.snapshot.json, test_sqs_wait_for_task_token_timeout (2024-04-18).
    definition = put_object_machine({"task_token.$": "$$.Task.Token"})
    put = definition["States"]["Put"]
    put["Resource"] += ".waitForTaskToken"
    put["TimeoutSeconds"] = 30
    put["Catch"] = [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]
    del put["End"]
    put["Next"] = "Caught"
    definition["States"]["Caught"] = {"Type": "Pass", "End": True}
    with EmulatedAccount(fixture_template) as account:
        account.client("s3").create_bucket(Bucket="probe-bucket")
        result = run_machine(account, definition, {"Bucket": "probe-bucket", "Key": "k"})
    assert result.status == "SUCCEEDED"
    assert result.output == {"Error": "States.Timeout", "Cause": ""}


def test_send_task_success_with_a_token_that_is_no_token_is_invalid_token(fixture_template: Path) -> None:
    # services/test_aws_sdk_task_service.snapshot.json, test_sfn_send_task_outcome_with_no_such_token (2025-11-06).
    import botocore.exceptions

    with EmulatedAccount(fixture_template) as account, pytest.raises(botocore.exceptions.ClientError) as raised:
        account.client("stepfunctions").send_task_success(taskToken="NoSuchTaskToken", output="{}")
    assert raised.value.response["Error"]["Code"] == "InvalidToken"


def test_sns_refuses_an_empty_subject_as_recorded(fixture_template: Path) -> None:
    # sns/test_sns.snapshot.json, test_publish_with_empty_subject (2023-08-24); moto publishes it.
    import botocore.exceptions

    with EmulatedAccount(fixture_template) as account:
        sns = account.client("sns")
        topic = sns.create_topic(Name="probe")["TopicArn"]
        assert sns.publish(TopicArn=topic, Message="m")["MessageId"]
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            sns.publish(TopicArn=topic, Subject="", Message="m")
    error = raised.value.response["Error"]
    assert (error["Type"], error["Code"], error["Message"]) == ("Sender", "InvalidParameter", "Invalid parameter: Subject")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


# A service integration's ARN, in any partition (a literal one or a template substitution).
_INTEGRATION = re.compile(r"^arn:(?:\$\{[^}]*\}|[^:]*):states:::(.+)$")


def _service_tasks() -> list[tuple[str, str, dict[str, Any]]]:
    """(machine, state, task with its Resource cut to the integration) of every Task that is not a Lambda function."""
    found = []
    for path in sorted((Path(__file__).resolve().parents[2] / "statemachine").glob("*.asl.json")):
        def walk(states: dict[str, Any]) -> None:
            for name, state in states.items():
                integration = _INTEGRATION.match(state["Resource"]) if state["Type"] == "Task" else None
                if integration:
                    found.append((path.name, name, {**state, "Resource": integration.group(1)}))
                if state["Type"] == "Map":
                    walk(state["ItemProcessor"]["States"])
                for branch in state.get("Branches", []):
                    walk(branch["States"])
        walk(json.loads(path.read_text())["States"])
    return found


def _sample(parameters: Any) -> Any:
    # A path's value is known only at run time: a string stands for it (the runs cover the rest).
    if isinstance(parameters, dict):
        return {key.removesuffix(".$"): ("sample" if key.endswith(".$") else _sample(value)) for key, value in parameters.items()}
    return parameters


@pytest.mark.parametrize(("machine", "state", "task"), _service_tasks(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_service_integration_of_the_state_machines_has_a_recorded_form(machine: str, state: str, task: dict[str, Any]) -> None:
    service, action = task["Resource"].removeprefix("aws-sdk:").split(".")[0].split(":")
    request = serialise({"states": "stepfunctions"}.get(service, service), action, _sample(task["Parameters"]))
    assert request


def test_the_service_integrations_are_those_this_file_probes() -> None:
    assert sorted(task["Resource"] for _, _, task in _service_tasks()) == ["aws-sdk:s3:putObject.waitForTaskToken", "states:startExecution.sync:2"]
