"""A source account's cluster, step by step: every RDS call in that account, nothing in the lake's."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from aurora_lake import clients, errors

from .conftest import ACCOUNT, REGION, load_handler, validation_event

validate = load_handler("validate_input")
create = load_handler("create_snapshot")
check_snapshot = load_handler("check_snapshot")
start = load_handler("start_export")
check_export = load_handler("check_export")
clean_up = load_handler("delete_snapshot")

ORDERS_ACCOUNT = "111111111111"
BILLING_ACCOUNT = "222222222222"
def rds(account: str | None = None) -> Any:
    return clients.client("rds", account=account)


@pytest.fixture
def organization(aws: None, environment: Any) -> dict[str, str]:
    """The lake with two source accounts, a cluster in each (and a cluster of the same name as the lake's)."""
    environment(
        ALLOWED_CLUSTERS="demo-aurora-cluster",
        ORGANIZATION_ID="o-a1b2c3d4e5",
        AURORA_LAKE_STACK="aurora-lake",
        EXPORT_BUCKET="export-bucket",
        EXPORT_ROLE_ARN=f"arn:aws:iam::{ACCOUNT}:role/lake-export",
    )
    boto3.client("s3").create_bucket(Bucket="export-bucket")
    key_arn = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    environment(EXPORT_KMS_KEY_ARN=key_arn)
    opted_in = [{"Key": "aurora-lake:export", "Value": "aurora-lake"}]
    for account, name, tags in ((ORDERS_ACCOUNT, "orders-aurora", opted_in), (ORDERS_ACCOUNT, "secret-aurora", []),
                                (BILLING_ACCOUNT, "billing-aurora", opted_in),
                                (BILLING_ACCOUNT, "foreign-aurora", [{"Key": "aurora-lake:export", "Value": "other-lake"}])):
        rds(account).create_db_cluster(
            DBClusterIdentifier=name, Engine="aurora-postgresql", MasterUsername="admin_user", MasterUserPassword="not-a-real-password-1",
            Tags=tags,
        )
    rds(ORDERS_ACCOUNT).create_db_instance(
        DBInstanceIdentifier="orders-db", DBInstanceClass="db.t4g.medium", Engine="postgres", EngineVersion="16.4", AllocatedStorage=20,
        MasterUsername="admin_user", MasterUserPassword="not-a-real-password-1", Tags=opted_in,
    )
    return {"key_arn": key_arn}


def test_a_source_accounts_cluster_is_snapshotted_and_exported_in_that_account(organization: dict[str, str], context: object) -> None:
    job = validate.lambda_handler(validation_event({"cluster_identifier": "orders-aurora", "account_id": ORDERS_ACCOUNT}), context)["job"]
    assert job["account"] == job["source_account"] == ORDERS_ACCOUNT
    snapshot = create.lambda_handler({"job": job}, context)
    assert snapshot["snapshot_arn"].split(":")[4] == ORDERS_ACCOUNT
    assert boto3.client("rds").describe_db_cluster_snapshots()["DBClusterSnapshots"] == []  # nothing in the lake account
    snapshot = check_snapshot.lambda_handler({"job": job, "snapshot": snapshot}, context)
    assert snapshot["status"] == "available"

    export = start.lambda_handler({"job": job, "snapshot": snapshot}, context)
    [task] = rds(ORDERS_ACCOUNT).describe_export_tasks()["ExportTasks"]
    assert boto3.client("rds").describe_export_tasks()["ExportTasks"] == []
    assert task["SourceArn"] == snapshot["snapshot_arn"]
    assert task["S3Bucket"] == "export-bucket" and task["S3Prefix"] == f"exports/accounts/{ORDERS_ACCOUNT}"
    # The export role of the source account (PassRole passes a role of the caller's account only), the lake key's full ARN.
    assert task["IamRoleArn"] == f"arn:aws:iam::{ORDERS_ACCOUNT}:role/aurora-lake-source-export-us-east-1"
    assert task["KmsKeyId"] == organization["key_arn"]

    checked = check_export.lambda_handler({"job": job, "snapshot": snapshot, "export": export}, context)
    assert checked["export_task_identifier"] == task["ExportTaskIdentifier"]

    deleted = clean_up.lambda_handler({"job": job, "snapshot": snapshot}, context)
    assert deleted["deleted"] is True
    assert rds(ORDERS_ACCOUNT).describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"] == []


def test_the_lakes_snapshot_in_a_source_account_is_tagged_as_the_lakes(organization: dict[str, str], context: object) -> None:
    job = validate.lambda_handler(validation_event({"cluster_identifier": "orders-aurora", "account_id": ORDERS_ACCOUNT}), context)["job"]
    snapshot = create.lambda_handler({"job": job}, context)
    [found] = rds(ORDERS_ACCOUNT).describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=snapshot["snapshot_identifier"])["DBClusterSnapshots"]
    tags = {tag["Key"]: tag["Value"] for tag in found["TagList"]}
    assert tags["aurora-lake:export"] == tags["aurora-lake:taken-by"] == "aurora-lake"
    assert tags["aurora-lake:execution"] == job["execution_name"]


@pytest.mark.parametrize(("raw", "expected"), [
    ({"cluster_identifier": "secret-aurora", "account_id": ORDERS_ACCOUNT}, "has no tag aurora-lake:export"),
    ({"cluster_identifier": "foreign-aurora", "account_id": BILLING_ACCOUNT}, 'is "other-lake", not "aurora-lake"'),
    ({"cluster_identifier": "missing-aurora", "account_id": ORDERS_ACCOUNT}, "does not exist"),
])
def test_a_source_that_did_not_opt_in_is_refused_before_anything_is_created(organization: dict[str, str], context: object, raw: dict[str, str], expected: str) -> None:
    with pytest.raises(errors.SourceNotOptedIn, match=expected) as refused:
        validate.lambda_handler(validation_event(raw), context)
    assert "aurora-lake:export = aurora-lake" in str(refused.value) or "does not exist" in str(refused.value)
    assert rds(raw["account_id"]).describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"] == []


def test_a_given_snapshot_must_carry_the_tag_itself(organization: dict[str, str], context: object) -> None:
    # A user's snapshot of an opted-in cluster, untagged: IAM would refuse its export, so does the lake.
    rds(ORDERS_ACCOUNT).create_db_cluster_snapshot(DBClusterIdentifier="orders-aurora", DBClusterSnapshotIdentifier="orders-aurora-by-hand", Tags=[])
    arn = f"arn:aws:rds:{REGION}:{ORDERS_ACCOUNT}:cluster-snapshot:orders-aurora-by-hand"
    with pytest.raises(errors.SourceNotOptedIn, match="CopyTagsToSnapshot"):
        validate.lambda_handler(validation_event({"snapshot_arn": arn}), context)
    # Tagged by its owner: exported.
    rds(ORDERS_ACCOUNT).add_tags_to_resource(ResourceName=arn, Tags=[{"Key": "aurora-lake:export", "Value": "aurora-lake"}])
    job = validate.lambda_handler(validation_event({"snapshot_arn": arn}), context)["job"]
    assert check_snapshot.lambda_handler({"job": job}, context)["status"] == "available"
    # The tag removed after validation: CheckSnapshot refuses it again before the export.
    rds(ORDERS_ACCOUNT).remove_tags_from_resource(ResourceName=arn, TagKeys=["aurora-lake:export"])
    with pytest.raises(errors.SourceNotOptedIn):
        check_snapshot.lambda_handler({"job": job}, context)


def test_a_triggered_start_for_a_source_that_did_not_opt_in_ends_quietly(organization: dict[str, str], context: object) -> None:
    rds(ORDERS_ACCOUNT).create_db_cluster_snapshot(DBClusterIdentifier="secret-aurora", DBClusterSnapshotIdentifier="secret-aurora-2026-12-06")
    arn = f"arn:aws:rds:{REGION}:{ORDERS_ACCOUNT}:cluster-snapshot:secret-aurora-2026-12-06"
    raw = {"snapshot_arn": arn, "trigger": "snapshot-event", "event_account": ORDERS_ACCOUNT}
    job = validate.lambda_handler(validation_event(raw), context)["job"]
    assert "secret-aurora-2026-12-06" in job["ignored"] and "aurora-lake:export" in job["ignored"]


def test_a_triggered_start_for_the_lakes_own_snapshot_ends_quietly(organization: dict[str, str], context: object) -> None:
    job = validate.lambda_handler(validation_event({"cluster_identifier": "orders-aurora", "account_id": ORDERS_ACCOUNT}), context)["job"]
    snapshot = create.lambda_handler({"job": job}, context)
    raw = {"snapshot_arn": snapshot["snapshot_arn"], "trigger": "snapshot-event", "event_account": ORDERS_ACCOUNT}
    assert "taken by this lake" in validate.lambda_handler(validation_event(raw), context)["job"]["ignored"]


def test_a_db_instance_of_a_source_account_exports_like_a_cluster(organization: dict[str, str], context: object) -> None:
    job = validate.lambda_handler(validation_event({"db_instance_identifier": "orders-db", "account_id": ORDERS_ACCOUNT}), context)["job"]
    assert (job["source_kind"], job["source_account"]) == ("instance", ORDERS_ACCOUNT)
    snapshot = check_snapshot.lambda_handler({"job": job, "snapshot": create.lambda_handler({"job": job}, context)}, context)
    start.lambda_handler({"job": job, "snapshot": snapshot}, context)
    [task] = rds(ORDERS_ACCOUNT).describe_export_tasks()["ExportTasks"]
    assert ":snapshot:orders-db-lake-" in task["SourceArn"] and task["S3Prefix"] == f"exports/accounts/{ORDERS_ACCOUNT}"


def test_an_event_forged_by_one_source_account_about_anothers_snapshot_is_refused(organization: dict[str, str], context: object) -> None:
    arn = f"arn:aws:rds:{REGION}:{BILLING_ACCOUNT}:cluster-snapshot:billing-aurora-2026-12-06"
    with pytest.raises(errors.InvalidInput, match=f"event_account: an event of account {ORDERS_ACCOUNT} names a snapshot of account {BILLING_ACCOUNT}"):
        validate.lambda_handler(validation_event({"snapshot_arn": arn, "trigger": "snapshot-event", "event_account": ORDERS_ACCOUNT}), context)


def test_without_an_organization_another_account_is_refused(organization: dict[str, str], context: object, environment: Any) -> None:
    environment(ORGANIZATION_ID="")
    with pytest.raises(errors.AccountNotAllowed, match="OrganizationId"):
        validate.lambda_handler(validation_event({"cluster_identifier": "orders-aurora", "account_id": ORDERS_ACCOUNT}), context)


def test_a_direct_export_of_a_source_accounts_cluster_names_that_accounts_cluster(organization: dict[str, str], context: object) -> None:
    job = validate.lambda_handler(
        validation_event({"cluster_identifier": "billing-aurora", "account_id": BILLING_ACCOUNT, "export_cluster_directly": True}), context
    )["job"]
    assert job["cluster_arn"] == f"arn:aws:rds:{REGION}:{BILLING_ACCOUNT}:cluster:billing-aurora"
    assert job["s3_prefix"] == f"exports/accounts/{BILLING_ACCOUNT}/"


def test_a_source_accounts_export_needs_the_lake_keys_full_arn(organization: dict[str, str], context: object, environment: Any) -> None:
    job = validate.lambda_handler(validation_event({"cluster_identifier": "orders-aurora", "account_id": ORDERS_ACCOUNT}), context)["job"]
    snapshot = check_snapshot.lambda_handler({"job": job, "snapshot": create.lambda_handler({"job": job}, context)}, context)
    environment(EXPORT_KMS_KEY_ARN="alias/aurora-lake")
    with pytest.raises(RuntimeError, match="not a full KMS key ARN"):
        start.lambda_handler({"job": job, "snapshot": snapshot}, context)
    assert rds(ORDERS_ACCOUNT).describe_export_tasks()["ExportTasks"] == []
