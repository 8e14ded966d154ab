"""A key brought with ExistingKmsKeyArn is checked before an export relies on it."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from aurora_lake import errors, key_policy
from tools.cfn_resolve import Resolver

from .conftest import ACCOUNT, job, load_handler

start = load_handler("start_export")
create = load_handler("create_snapshot")

ADMIN = {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"}
CLOUDWATCH = {"Sid": "Alarms", "Effect": "Allow", "Principal": {"Service": "cloudwatch.amazonaws.com"},
              "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"}


def _policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def test_the_key_the_stack_creates_has_every_grant_the_check_asks_for(cfn: dict[str, Any]) -> None:
    policy = Resolver(cfn, {"AllowedClusterIdentifiers": "orders"}).resolve(cfn["Resources"]["ExportKey"]["Properties"]["KeyPolicy"])
    assert key_policy.missing_grants(policy) == []


@pytest.mark.parametrize(("statements", "missing"), [
    ([ADMIN], ["cloudwatch.amazonaws.com: kms:Decrypt", "cloudwatch.amazonaws.com: kms:GenerateDataKey"]),
    ([ADMIN, CLOUDWATCH], []),
    ([ADMIN, {**CLOUDWATCH, "Action": "kms:*"}], []),
    ([ADMIN, {**CLOUDWATCH, "Action": "kms:Decrypt"}], ["cloudwatch.amazonaws.com: kms:GenerateDataKey"]),
    ([ADMIN, CLOUDWATCH, {**CLOUDWATCH, "Effect": "Deny", "Action": "kms:Decrypt"}], ["cloudwatch.amazonaws.com: kms:Decrypt"]),
    # Another service's grant is not CloudWatch's.
    ([ADMIN, {**CLOUDWATCH, "Principal": {"Service": "events.amazonaws.com"}}],
     ["cloudwatch.amazonaws.com: kms:Decrypt", "cloudwatch.amazonaws.com: kms:GenerateDataKey"]),
])
def test_missing_grants_are_named(statements: list[dict[str, Any]], missing: list[str]) -> None:
    assert key_policy.missing_grants(_policy(*statements)) == missing


@pytest.fixture
def existing_key_export(aurora_cluster: str, environment, context: object) -> Any:
    boto3.client("s3").create_bucket(Bucket="export-bucket")

    def prepare(*statements: dict[str, Any]) -> dict[str, Any]:
        key_arn = boto3.client("kms").create_key(Policy=json.dumps(_policy(*statements)))["KeyMetadata"]["Arn"]
        environment(EXPORT_BUCKET="export-bucket", EXPORT_KMS_KEY_ARN=key_arn, CHECK_KEY_POLICY="true",
                    EXPORT_ROLE_ARN=f"arn:aws:iam::{ACCOUNT}:role/export")
        return {"job": job(), "snapshot": create.lambda_handler({"job": job()}, context)}

    return prepare


def test_an_existing_key_without_cloudwatchs_grant_stops_the_first_export_naming_it(existing_key_export: Any, context: object) -> None:
    state = existing_key_export(ADMIN)
    with pytest.raises(errors.KmsKeyPolicyIncomplete, match="cloudwatch.amazonaws.com: kms:Decrypt"):
        start.lambda_handler(state, context)
    assert boto3.client("rds").describe_export_tasks()["ExportTasks"] == []


def test_an_existing_key_with_the_grants_exports(existing_key_export: Any, context: object) -> None:
    state = existing_key_export(ADMIN, CLOUDWATCH)
    assert start.lambda_handler(state, context)["export_task_identifier"]
