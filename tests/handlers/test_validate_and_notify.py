"""ValidateInput and Notify handlers against moto."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from aurora_lake import errors

from .conftest import ACCOUNT, REGION, job, load_handler, validation_event

validate = load_handler("validate_input")
notify = load_handler("notify")

def test_valid_cluster_input_gets_a_deterministic_snapshot_name(aws: None, context: object) -> None:
    first = validate.lambda_handler(validation_event({"cluster_identifier": "demo-aurora-cluster"}), context)["job"]
    again = validate.lambda_handler(validation_event({"cluster_identifier": "demo-aurora-cluster"}), context)["job"]
    other = validate.lambda_handler(validation_event({"cluster_identifier": "demo-aurora-cluster"}, "run-2"), context)["job"]
    assert first["snapshot_mode"] == "create"
    assert first["snapshot_identifier"] == again["snapshot_identifier"] != other["snapshot_identifier"]
    assert first["region"] == REGION and first["account"] == ACCOUNT
    assert first["execution_name"] == "run-1"
    json.dumps(first)


def test_typo_in_a_key_is_refused_before_anything_happens(aws: None, context: object) -> None:
    with pytest.raises(errors.InvalidInput, match="export_onyl.*export_only"):
        validate.lambda_handler(validation_event({"cluster_identifier": "demo-aurora-cluster", "export_onyl": ["mydb"]}), context)


def test_cluster_outside_the_allowed_list_is_refused(aws: None, context: object, environment) -> None:
    environment(ALLOWED_CLUSTERS="demo-aurora-cluster,demo-mysql-cluster")
    with pytest.raises(errors.ClusterNotAllowed):
        validate.lambda_handler(validation_event({"cluster_identifier": "forbidden-cluster"}), context)


@pytest.fixture
def topic(aws: None, environment) -> dict[str, str]:
    sns = boto3.client("sns")
    sqs = boto3.client("sqs")
    topic_arn = sns.create_topic(Name="aurora-lake")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    environment(TOPIC_ARN=topic_arn, ATHENA_WORKGROUP="aurora-lake")
    return {"topic_arn": topic_arn, "queue_url": queue_url}


def received(queue_url: str) -> list[dict[str, Any]]:
    messages = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    return [json.loads(message["Body"]) for message in messages]


def test_failure_notification_is_published_and_returns_the_original_error(topic: dict[str, str], context: object) -> None:
    cause = json.dumps({"errorType": "ExportFailed", "errorMessage": "Export task e FAILED: S3 credential check failed"})
    result = notify.lambda_handler(
        {"outcome": "failure", "state": {"job": job(), "failure": {"step": "CheckExport", "error": "ExportFailed", "cause": cause}}}, context
    )
    assert result == {"step": "CheckExport", "error": "ExportFailed", "cause": "Export task e FAILED: S3 credential check failed"}
    [message] = received(topic["queue_url"])
    assert message["Subject"].startswith("[aurora-lake] FAILED demo-aurora-cluster")
    assert "S3 credential check failed" in message["Message"]
    assert message["MessageAttributes"]["status"]["Value"] == "FAILED"


def test_success_notification_is_published(topic: dict[str, str], context: object) -> None:
    state = {
        "job": job(),
        "export": {"export_task_identifier": "exp-1", "s3_bucket": "b", "s3_prefix": "exports/"},
        "athena": {"database": "lake", "tables_created": 2, "sample_table": "t", "partial": False},
    }
    result = notify.lambda_handler({"outcome": "success", "state": state}, context)
    assert result["status"] == "SUCCEEDED" and result["message_id"]
    [message] = received(topic["queue_url"])
    assert "s3://b/exports/exp-1/" in message["Message"]
    assert message["MessageAttributes"]["cluster"]["Value"] == "demo-aurora-cluster"


def published_counts(capsys: pytest.CaptureFixture[str], *names: str) -> list[int]:
    """How many metric records of each name the handler printed since the last call."""
    lines = capsys.readouterr().out.splitlines()
    return [sum(1 for line in lines if f'"{name}"' in line and '"_aws"' in line) for name in names]


def test_a_run_that_catalogued_no_table_says_so_and_never_counts_as_fresh(
    topic: dict[str, str], context: object, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = [{"table": "mydb.public.x.", "reason": "the export's metadata cannot tell which table it is"}]
    athena = {"database": "lake", "tables_created": 0, "tables_skipped": 1, "sample_table": None, "partial": True,
              "missing_tables": missing, "report_uri": "s3://b/athena-plans/exp-1/report.json"}
    state = {"job": job(), "export": {"export_task_identifier": "exp-1", "s3_bucket": "b", "s3_prefix": "exports/"}, "athena": athena}
    capsys.readouterr()
    result = notify.lambda_handler({"outcome": "success", "state": state}, context)
    assert result["status"] == "PARTIAL"
    [message] = received(topic["queue_url"])
    assert message["Subject"].startswith("[aurora-lake] PARTIAL (0 tables) ")
    assert message["Message"].startswith("The export of demo-aurora-cluster catalogued no table")
    assert "not counted as a fresh export" in message["Message"]
    assert published_counts(capsys, "ExportsSucceeded", "PartialExports") == [0, 1]
    # The same run with one table catalogued counts.
    notify.lambda_handler({"outcome": "success", "state": {**state, "athena": {**athena, "tables_created": 1, "sample_table": "t"}}}, context)
    assert published_counts(capsys, "ExportsSucceeded", "PartialExports") == [1, 1]
