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
        SOURCE_ACCOUNT_IDS=f"{ORDERS_ACCOUNT},{BILLING_ACCOUNT}",
        SOURCE_ACCOUNT_CLUSTERS=f"{ORDERS_ACCOUNT}:orders-aurora,{BILLING_ACCOUNT}:billing-aurora",
        EXPORT_BUCKET="export-bucket",
        EXPORT_ROLE_ARN=f"arn:aws:iam::{ACCOUNT}:role/lake-export",
    )
    boto3.client("s3").create_bucket(Bucket="export-bucket")
    key_arn = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    environment(EXPORT_KMS_KEY_ARN=key_arn)
    for account, name in ((ORDERS_ACCOUNT, "orders-aurora"), (ORDERS_ACCOUNT, "secret-aurora"), (BILLING_ACCOUNT, "billing-aurora")):
        rds(account).create_db_cluster(
            DBClusterIdentifier=name, Engine="aurora-postgresql", MasterUsername="admin_user", MasterUserPassword="not-a-real-password-1"
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
    assert task["IamRoleArn"] == f"arn:aws:iam::{ORDERS_ACCOUNT}:role/aurora-lake-source-export"
    assert task["KmsKeyId"] == organization["key_arn"]

    checked = check_export.lambda_handler({"job": job, "snapshot": snapshot, "export": export}, context)
    assert checked["export_task_identifier"] == task["ExportTaskIdentifier"]

    deleted = clean_up.lambda_handler({"job": job, "snapshot": snapshot}, context)
    assert deleted["deleted"] is True
    assert rds(ORDERS_ACCOUNT).describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"] == []


def test_a_snapshot_of_a_cluster_not_allowed_in_its_source_account_is_refused(organization: dict[str, str], context: object) -> None:
    rds(ORDERS_ACCOUNT).create_db_cluster_snapshot(DBClusterIdentifier="secret-aurora", DBClusterSnapshotIdentifier="orders-aurora-by-hand")
    arn = f"arn:aws:rds:{REGION}:{ORDERS_ACCOUNT}:cluster-snapshot:orders-aurora-by-hand"
    job = validate.lambda_handler(validation_event({"snapshot_arn": arn}), context)["job"]
    # Named like an allowed cluster's, but RDS says whose it is.
    with pytest.raises(errors.ClusterNotAllowed, match=f"secret-aurora of account {ORDERS_ACCOUNT}.*SourceAccountClusters"):
        check_snapshot.lambda_handler({"job": job}, context)


def test_a_triggered_start_for_a_cluster_not_allowed_in_a_source_account_ends_quietly(organization: dict[str, str], context: object) -> None:
    arn = f"arn:aws:rds:{REGION}:{ORDERS_ACCOUNT}:cluster-snapshot:secret-aurora-2026-12-06"
    raw = {"snapshot_arn": arn, "trigger": "snapshot-event", "event_account": ORDERS_ACCOUNT}
    job = validate.lambda_handler(validation_event(raw), context)["job"]
    assert "secret-aurora-2026-12-06" in job["ignored"] and "SourceAccountClusters" in job["ignored"]


def test_a_triggered_start_for_a_db_snapshot_of_a_source_account_ends_quietly(organization: dict[str, str], context: object) -> None:
    backup = {"state": "COMPLETED", "resourceType": "RDS", "recoveryPointArn": f"arn:aws:rds:{REGION}:{ORDERS_ACCOUNT}:snapshot:awsbackup:job-1"}
    job = validate.lambda_handler(validation_event({"aws_backup_job": backup, "trigger": "aws-backup", "event_account": ORDERS_ACCOUNT}), context)["job"]
    assert "only clusters of source accounts" in job["ignored"]


def test_an_event_forged_by_one_source_account_about_anothers_snapshot_is_refused(organization: dict[str, str], context: object) -> None:
    arn = f"arn:aws:rds:{REGION}:{BILLING_ACCOUNT}:cluster-snapshot:billing-aurora-2026-12-06"
    with pytest.raises(errors.InvalidInput, match=f"event_account: an event of account {ORDERS_ACCOUNT} names a snapshot of account {BILLING_ACCOUNT}"):
        validate.lambda_handler(validation_event({"snapshot_arn": arn, "trigger": "snapshot-event", "event_account": ORDERS_ACCOUNT}), context)


def test_a_cluster_allowed_in_one_source_account_is_refused_in_the_other(organization: dict[str, str], context: object) -> None:
    with pytest.raises(errors.ClusterNotAllowed, match=f"account {BILLING_ACCOUNT}"):
        validate.lambda_handler(validation_event({"cluster_identifier": "orders-aurora", "account_id": BILLING_ACCOUNT}), context)


def test_a_misconfigured_deployment_fails_loudly_naming_the_entry(organization: dict[str, str], context: object, environment: Any) -> None:
    environment(SOURCE_ACCOUNT_CLUSTERS="333333333333:orders-aurora")
    with pytest.raises(RuntimeError, match="333333333333:orders-aurora.*not in SourceAccountIds"):
        validate.lambda_handler(validation_event({"cluster_identifier": "demo-aurora-cluster"}), context)


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
