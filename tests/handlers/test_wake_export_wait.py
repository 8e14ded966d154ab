"""WakeExportWait against moto: which tokens it hands back, and what it refuses loudly.

Waking a real waiting execution is covered by tests/scenarios/test_export_events.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from aurora_lake import clients, errors, export_events, naming

from .conftest import ACCOUNT, REGION, job, load_handler

wake = load_handler("wake_export_wait")
start = load_handler("start_export")
create = load_handler("create_snapshot")
PREFIX = "export-waits/aurora-lake/"


@pytest.fixture
def aws(aws_environment: None) -> Iterator[None]:
    # Step Functions as moto's interpreter runs it: SendTaskSuccess checks the token (moto's
    # default backend accepts any token and does nothing).
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        clients.reset()
        yield
    clients.reset()


@pytest.fixture
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "POWERTOOLS_TRACE_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def export_task(aurora_cluster: str, environment: Any, context: object) -> dict[str, Any]:
    boto3.client("s3").create_bucket(Bucket="export-bucket")
    key_arn = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    environment(EXPORT_BUCKET="export-bucket", EXPORT_KMS_KEY_ARN=key_arn, EXPORT_ROLE_ARN=f"arn:aws:iam::{ACCOUNT}:role/export",
                EXPORT_WAIT_TOKEN_PREFIX=PREFIX)
    snapshot = create.lambda_handler({"job": job()}, context)
    return start.lambda_handler({"job": job(), "snapshot": snapshot}, context)


def stored_token(token: str, export_task_identifier: str) -> str:
    """The body WaitForExport leaves, as Step Functions stores an object Body: its compact JSON text."""
    fields = {"task_token": token, "export_task_identifier": export_task_identifier, "execution": "arn:aws:states:us-east-1:123456789012:execution:m:run"}
    return json.dumps(fields, separators=(",", ":"))


def finished(source_arn: str, event_id: str = "RDS-EVENT-0164") -> dict[str, Any]:
    return {
        "source": "aws.rds",
        "detail-type": "RDS DB Cluster Snapshot Event",
        "detail": {"EventID": event_id, "SourceArn": source_arn, "SourceIdentifier": source_arn.rsplit(":", 1)[-1]},
    }


def test_an_export_nobody_waits_for_wakes_nothing(export_task: dict[str, Any], context: object) -> None:
    result = wake.lambda_handler(finished(export_task["source_arn"]), context)
    assert result["woken"] == [] and result["spent"] == []
    assert result["not_waiting"] == [export_task["export_task_identifier"]]


def test_a_spent_token_is_refused_by_step_functions_and_skipped(export_task: dict[str, Any], context: object) -> None:
    key = naming.export_wait_token_key(PREFIX, export_task["export_task_identifier"])
    boto3.client("s3").put_object(Bucket="export-bucket", Key=key, Body=stored_token("a-token-of-a-wait-that-is-over", export_task["export_task_identifier"]))
    result = wake.lambda_handler(finished(export_task["source_arn"]), context)
    assert result["spent"] == [export_task["export_task_identifier"]] and result["woken"] == []


def test_tokens_of_another_stack_are_never_read(export_task: dict[str, Any], context: object) -> None:
    other = naming.export_wait_token_key("export-waits/another-stack/", export_task["export_task_identifier"])
    boto3.client("s3").put_object(Bucket="export-bucket", Key=other, Body=stored_token("another-stacks-token", export_task["export_task_identifier"]))
    result = wake.lambda_handler(finished(export_task["source_arn"]), context)
    assert result["not_waiting"] == [export_task["export_task_identifier"]]


def test_the_event_of_another_source_finds_no_task(export_task: dict[str, Any], context: object) -> None:
    other = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster-snapshot:demo-aurora-cluster-someone-elses"
    assert wake.lambda_handler(finished(other), context)["not_waiting"] == []


@pytest.mark.parametrize(
    "event",
    [
        finished("arn:aws:rds:us-east-1:123456789012:cluster-snapshot:x", event_id="RDS-EVENT-0075"),
        {"source": "custom.app", "detail": {"EventID": "RDS-EVENT-0164", "SourceArn": "arn:aws:rds:us-east-1:123456789012:cluster:x"}},
        {"source": "aws.rds", "detail": {"EventID": "RDS-EVENT-0236"}},
    ],
)
def test_an_event_that_announces_no_export_end_fails_loudly(aws: None, event: dict[str, Any], context: object) -> None:
    with pytest.raises(export_events.UnexpectedExportEvent):
        wake.lambda_handler(event, context)


def test_an_unreadable_token_fails_loudly(export_task: dict[str, Any], environment: Any, context: object) -> None:
    # The bucket is not there (or not readable): Lambda retries the event, then keeps it in the DLQ.
    environment(EXPORT_BUCKET="no-such-bucket")
    with pytest.raises(errors.AwsServiceError) as raised:
        wake.lambda_handler(finished(export_task["source_arn"]), context)
    assert type(raised.value).__name__ == "NoSuchBucket"


def test_the_token_key_is_the_prefix_and_the_export_task_identifier() -> None:
    assert naming.export_wait_token_key(PREFIX, "snap-0123456789ab") == PREFIX + "snap-0123456789ab"
    with pytest.raises(ValueError, match="end with '/'"):
        naming.export_wait_token_key("export-waits", "snap-1")
    with pytest.raises(ValueError, match="export task identifier"):
        naming.export_wait_token_key(PREFIX, "../other-stack/x")


@pytest.mark.parametrize("foreign", ["someone-elses-export-" + "x" * 60, "Someone_Elses.Export", "a--b", "x" * 1000, "../../other-stack/x", "ends-"])
def test_a_foreign_export_task_of_any_name_is_ignored_and_ours_is_still_woken(
    export_task: dict[str, Any], environment: Any, context: object, foreign: str
) -> None:
    # Someone else exports the same snapshot, under an identifier our runs never use.
    boto3.client("rds").start_export_task(
        ExportTaskIdentifier=foreign, SourceArn=export_task["source_arn"], S3BucketName="export-bucket",
        IamRoleArn=f"arn:aws:iam::{ACCOUNT}:role/other", KmsKeyId="other-key",
    )
    key = naming.export_wait_token_key(PREFIX, export_task["export_task_identifier"])
    boto3.client("s3").put_object(Bucket="export-bucket", Key=key, Body=stored_token("a-token-of-a-wait-that-is-over", export_task["export_task_identifier"]))
    result = wake.lambda_handler(finished(export_task["source_arn"]), context)
    assert result["spent"] == [export_task["export_task_identifier"]]
    assert result["foreign"] == 1 and foreign not in str(result)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        # A bare token as AWS stores a string Body: JSON text, with its quotes. Sent as it is, Step
        # Functions would answer InvalidToken and the wait would pass for spent.
        (json.dumps("AQB8AAAAKgAAAAMAAAAAAAAAAb"), "is a JSON str"),
        ("AQB8AAAAKgAAAAMAAAAAAAAAAb", "is not JSON text"),
        ("", "is not JSON text"),
        ("null", "is a JSON NoneType"),
        (json.dumps({"task_token": "AQB8", "export_task_identifier": "x"}), "has the fields"),
        (json.dumps({"task_token": "AQB8", "export_task_identifier": "x", "execution": "e", "extra": 1}), "has the fields"),
        (json.dumps({"task_token": "", "export_task_identifier": "x", "execution": "e"}), "task_token must be"),
        (json.dumps({"task_token": ["AQB8"], "export_task_identifier": "x", "execution": "e"}), "task_token must be"),
    ],
)
def test_a_body_it_does_not_understand_fails_loudly_and_is_never_sent(
    export_task: dict[str, Any], context: object, body: str, problem: str,
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
) -> None:
    identifier = export_task["export_task_identifier"]
    body = body.replace('"x"', json.dumps(identifier))
    boto3.client("s3").put_object(Bucket="export-bucket", Key=naming.export_wait_token_key(PREFIX, identifier), Body=body)
    sent: list[str] = []
    monkeypatch.setattr(export_events, "wake", sent.append)
    with pytest.raises(export_events.UnreadableWaitToken, match=identifier):
        wake.lambda_handler(finished(export_task["source_arn"]), context)
    assert sent == []
    [logged] = [r for r in caplog.records if r.getMessage() == "unreadable export wait token"]
    assert problem in logged.cause and logged.levelname == "ERROR"
    assert all("AQB8" not in str(r.__dict__) for r in caplog.records)  # the token is a credential: never logged
    [metrics] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert metrics["ExportWaitTokensUnreadable"] == [1.0]


def test_a_token_object_naming_another_export_task_is_refused(
    export_task: dict[str, Any], context: object, caplog: pytest.LogCaptureFixture
) -> None:
    # A body under this task's key that claims another task's wait: a collision or a planted object.
    identifier = export_task["export_task_identifier"]
    key = naming.export_wait_token_key(PREFIX, identifier)
    boto3.client("s3").put_object(Bucket="export-bucket", Key=key, Body=stored_token("AQB8", "another-export-task"))
    with pytest.raises(export_events.UnreadableWaitToken, match=identifier):
        wake.lambda_handler(finished(export_task["source_arn"]), context)
    assert any("names another export task: 'another-export-task'" in getattr(r, "cause", "") for r in caplog.records)


def test_the_token_fields_are_those_the_state_machine_writes() -> None:
    from pathlib import Path

    asl = json.loads((Path(__file__).resolve().parents[2] / "statemachine" / "export_to_data_lake.asl.json").read_text())
    body = asl["States"]["WaitForExport"]["Parameters"]["Body"]
    assert sorted(name.removesuffix(".$") for name in body) == sorted(export_events.WAIT_TOKEN_FIELDS)
    assert body["task_token.$"] == "$$.Task.Token"


# --- events of source accounts (issue 20) -----------------------------------------------------

SOURCE = "111111111111"


@pytest.fixture
def source_export_task(aws: None, environment: Any, context: object) -> dict[str, Any]:
    """A waiting export of a source account's cluster (snapshot and task in that account)."""
    boto3.client("s3").create_bucket(Bucket="export-bucket")
    key_arn = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    environment(EXPORT_BUCKET="export-bucket", EXPORT_KMS_KEY_ARN=key_arn, EXPORT_ROLE_ARN=f"arn:aws:iam::{ACCOUNT}:role/export",
                EXPORT_WAIT_TOKEN_PREFIX=PREFIX, ORGANIZATION_ID="o-a1b2c3d4e5", AURORA_LAKE_STACK="aurora-lake")
    clients.client("rds", account=SOURCE).create_db_cluster(
        DBClusterIdentifier="orders-aurora", Engine="aurora-postgresql", MasterUsername="admin_user", MasterUserPassword="not-a-real-password-1")
    source_job = job(cluster_identifier="orders-aurora", source_identifier="orders-aurora", source_account=SOURCE, account=SOURCE,
                     snapshot_identifier="orders-aurora-lake-abc123", s3_prefix=f"exports/accounts/{SOURCE}/")
    snapshot = create.lambda_handler({"job": source_job}, context)
    started = start.lambda_handler({"job": source_job, "snapshot": snapshot}, context)
    # The wait's key carries the account the export runs in.
    key = naming.export_wait_token_key(PREFIX, started["export_task_identifier"], SOURCE)
    boto3.client("s3").put_object(Bucket="export-bucket", Key=key, Body=stored_token("a-spent-token", started["export_task_identifier"]))
    return started


def test_a_source_accounts_export_event_is_looked_up_in_that_account(source_export_task: dict[str, Any], context: object) -> None:
    result = wake.lambda_handler({**finished(source_export_task["source_arn"]), "account": SOURCE}, context)
    # Found through the source account's role: the token is handed back (spent here, as no execution waits).
    assert result["spent"] == [source_export_task["export_task_identifier"]] and "ignored_account" not in result


def test_a_wait_of_one_account_is_never_woken_by_anothers_export_of_the_same_identifier(
    source_export_task: dict[str, Any], context: object
) -> None:
    # Export task identifiers are unique per account only: a token left under the lake's own
    # account (or under the old key without account) is not this source account's wait.
    identifier = source_export_task["export_task_identifier"]
    boto3.client("s3").delete_object(Bucket="export-bucket", Key=naming.export_wait_token_key(PREFIX, identifier, SOURCE))
    for key in (naming.export_wait_token_key(PREFIX, identifier, ACCOUNT), naming.export_wait_token_key(PREFIX, identifier),
                naming.export_wait_token_key(PREFIX, identifier, "222222222222")):
        boto3.client("s3").put_object(Bucket="export-bucket", Key=key, Body=stored_token("another-accounts-token", identifier))
    result = wake.lambda_handler({**finished(source_export_task["source_arn"]), "account": SOURCE}, context)
    assert result["not_waiting"] == [identifier] and result["spent"] == result["woken"] == []


@pytest.mark.parametrize("account, reason", [("11111111111", "not a 12-digit"), (111111111111, "not a 12-digit"),
                                             ("222222222222", "names an export source of account '111111111111'")])
def test_an_event_of_another_or_a_malformed_account_is_ignored_and_counted(
    source_export_task: dict[str, Any], context: object, account: object, reason: str
) -> None:
    result = wake.lambda_handler({**finished(source_export_task["source_arn"]), "account": account}, context)
    assert reason in result["ignored_account"]
    assert result["spent"] == result["woken"] == result["not_waiting"] == []


def test_without_an_organization_no_other_accounts_event_is_followed(source_export_task: dict[str, Any], context: object, environment: Any) -> None:
    environment(ORGANIZATION_ID="")
    result = wake.lambda_handler({**finished(source_export_task["source_arn"]), "account": SOURCE}, context)
    assert "takes no source accounts" in result["ignored_account"]
    # The lake's own account looks only into its own exports: the source's task is not there.
    own = wake.lambda_handler({**finished(source_export_task["source_arn"]), "account": ACCOUNT}, context)
    assert own["spent"] == own["not_waiting"] == []


def test_the_lakes_own_wait_is_found_under_its_account_and_under_the_older_key(export_task: dict[str, Any], context: object) -> None:
    identifier = export_task["export_task_identifier"]
    for key in (naming.export_wait_token_key(PREFIX, identifier, ACCOUNT), naming.export_wait_token_key(PREFIX, identifier)):
        boto3.client("s3").put_object(Bucket="export-bucket", Key=key, Body=stored_token("a-token-of-a-wait-that-is-over", identifier))
        assert wake.lambda_handler(finished(export_task["source_arn"]), context)["spent"] == [identifier], key
        boto3.client("s3").delete_object(Bucket="export-bucket", Key=key)
