"""Least privilege across the organization, judged as IAM would in the emulated organization.

The lake (template.yaml with OrganizationId and the Workloads OU) and source-account.yaml, deployed
by the emulated stack set in the accounts of that OU, with the databases' owners' opt-in tags. Every
RDS call into a source account, and every KMS call on the lake's key from another account, is judged
at call time with the deployed policies (``emulated_account.organization.judged_calls``); the attacks
below are made the way a source account's administrator would make them: calls with the access
role's credentials, or with an administrator role of the account.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from emulated_account import EmulatedAccount, data
from emulated_account.account import SOURCE_FOREIGN_AWS_BACKUP_SNAPSHOT
from emulated_account.iam_policy import Request, ResourcePolicy
from emulated_account.organization import Organization, account_client

ORDERS, BILLING = data.SOURCE_ACCOUNT_IDS
LAKE, STRANGER, SANDBOX = data.ACCOUNT_ID, data.STRANGER_ACCOUNT_ID, data.SANDBOX_ACCOUNT_ID
REGION = data.REGION
ORGANIZATION = {"OrganizationId": data.ORGANIZATION_ID, "SourceOrganizationalUnitIds": data.WORKLOADS_OU}
ACCESS = "aurora-lake-source-access-us-east-1"
EXPORT = "aurora-lake-source-export-us-east-1"


@pytest.fixture(scope="module")
def lake() -> Iterator[EmulatedAccount]:
    with EmulatedAccount(parameters=ORGANIZATION, handler_output=io.StringIO()) as account:
        yield account


@pytest.fixture(scope="module")
def org(lake: EmulatedAccount) -> Organization:
    assert lake.organization is not None
    return lake.organization


def _role(account: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role/{name}"


def _rds(account: str, kind: str, name: str) -> str:
    return f"arn:aws:rds:{REGION}:{account}:{kind}:{name}"


def _as(account: str, role: str, service: str) -> Any:
    """A client acting as ``role`` of ``account``, judged like the lake's own calls (not the emulator's)."""
    sts = boto3.client("sts", region_name=REGION)
    credentials = sts.assume_role(RoleArn=_role(account, role), RoleSessionName="attacker")["Credentials"]
    return boto3.client(service, region_name=REGION, aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"], aws_session_token=credentials["SessionToken"])


def _admin(account: str) -> str:
    """An administrator role of a source account, allowed everything by its own account."""
    iam = account_client("iam", account, REGION)
    name = "account-admin"
    try:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}))
        iam.put_role_policy(RoleName=name, PolicyName="all", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    return name


def _denied(call: Any) -> str:
    with pytest.raises(ClientError) as refused:
        call()
    assert refused.value.response["Error"]["Code"] in ("AccessDenied", "KMSKeyNotAccessibleFault"), refused.value.response
    return str(refused.value)


def _key_arn(lake: EmulatedAccount) -> str:
    return lake.functions["StartExportFunction"].environment["EXPORT_KMS_KEY_ARN"]


# ---------------------------------------------------------------- the access role's ABAC, at call time


def test_the_access_role_cannot_snapshot_a_source_that_did_not_opt_in(lake: EmulatedAccount) -> None:
    rds = _as(ORDERS, ACCESS, "rds")
    tags = [{"Key": "aurora-lake:export", "Value": "aurora-lake"}, {"Key": "aurora-lake:taken-by", "Value": "aurora-lake"}]
    message = _denied(lambda: rds.create_db_cluster_snapshot(DBClusterIdentifier="orders-secrets", DBClusterSnapshotIdentifier="orders-secrets-lake-0123456789ab", Tags=tags))
    assert f"assumed-role/{ACCESS}/attacker is not authorized to perform: rds:CreateDBClusterSnapshot on resource: {_rds(ORDERS, 'cluster', 'orders-secrets')}" in message
    _denied(lambda: rds.create_db_snapshot(DBInstanceIdentifier="orders-hr-db", DBSnapshotIdentifier="orders-hr-db-lake-0123456789ab", Tags=tags))
    # An opted-in source, but a snapshot not tagged as the lake's, or with another tag beside: refused too.
    _denied(lambda: rds.create_db_cluster_snapshot(DBClusterIdentifier="orders-aurora", DBClusterSnapshotIdentifier="orders-aurora-lake-0123456789ab"))
    _denied(lambda: rds.create_db_cluster_snapshot(DBClusterIdentifier="orders-aurora", DBClusterSnapshotIdentifier="orders-aurora-lake-0123456789ab",
                                                   Tags=[*tags, {"Key": "owner", "Value": "attacker"}]))
    assert lake.snapshots_created() == []


@pytest.mark.parametrize("snapshot", [
    "orders-secrets-manual-2026-11-01",  # a user's snapshot of a cluster opted in to another lake
    SOURCE_FOREIGN_AWS_BACKUP_SNAPSHOT,  # an AWS Backup recovery point of that cluster
    "rds:billing-reports-2026-11-01-03-10",  # an automated snapshot of an opted-in cluster that does not copy tags
])
def test_the_access_role_cannot_export_a_snapshot_without_the_tag(lake: EmulatedAccount, snapshot: str) -> None:
    account = BILLING if "billing" in snapshot else ORDERS
    rds = _as(account, ACCESS, "rds")
    _denied(lambda: rds.start_export_task(
        ExportTaskIdentifier="attack-1", SourceArn=_rds(account, "cluster-snapshot", snapshot), S3BucketName=lake.bucket,
        S3Prefix=f"exports/accounts/{account}", IamRoleArn=_role(account, EXPORT), KmsKeyId=_key_arn(lake)))
    assert [t for t in lake.export_tasks() if t["id"] == "attack-1"] == []


@pytest.mark.parametrize("snapshot", [
    "orders-secrets-manual-2026-11-01",  # a user's manual snapshot
    "rds:orders-aurora-2026-11-01-03-10",  # an automated snapshot (tagged, copied from its cluster)
    "awsbackup:job-5a7c9e1b-3d2f-4a6b-8c0d-1e2f3a4b5c6d",  # an AWS Backup recovery point
])
def test_the_access_role_cannot_delete_a_snapshot_the_lake_did_not_take(lake: EmulatedAccount, snapshot: str) -> None:
    rds = _as(ORDERS, ACCESS, "rds")
    _denied(lambda: rds.delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=snapshot))
    assert snapshot in lake.source_rds[ORDERS].backend.cluster_snapshots  # still there


def test_the_lake_key_cannot_be_handed_to_a_third_party(lake: EmulatedAccount) -> None:
    key = _key_arn(lake)
    third_party = _role(STRANGER, "exfiltrate")
    for role in (ACCESS, EXPORT, _admin(ORDERS)):
        kms = _as(ORDERS, role, "kms")
        _denied(lambda kms=kms: kms.create_grant(KeyId=key, GranteePrincipal=third_party, Operations=["Decrypt"]))
    # Nor can the admin read with the key, or change its policy.
    kms = _as(ORDERS, _admin(ORDERS), "kms")
    _denied(lambda: kms.put_key_policy(KeyId=key, PolicyName="default", Policy="{}"))
    _denied(lambda: kms.decrypt(KeyId=key, CiphertextBlob=b"x" * 32))
    assert lake.client("kms").list_grants(KeyId=key)["Grants"] == []


# ---------------------------------------------------------------- the lake's bucket: another account's state


@pytest.mark.parametrize("key", [
    f"exports/accounts/{BILLING}/export-1/shop/shop.orders/1/part-00000.gz.parquet",  # another account's export
    "exports/demo-aurora-cluster-lake-0123456789ab/mydb/public.users/part-00000.parquet",  # the lake's own
    f"export-waits/aurora-lake/{BILLING}/export-1",  # another account's wait token
    f"export-waits/aurora-lake/{ORDERS}/export-1",  # even its own account's wait token: the lake's state
    f"athena-plans/{BILLING}/export-1/plan.json",
    f"athena-catalog/{BILLING}/export-1.json",
    "athena-results/q.csv",
])
def test_a_source_accounts_roles_cannot_reach_another_accounts_exports_or_the_lakes_state(lake: EmulatedAccount, org: Organization, key: str) -> None:
    bucket = ResourcePolicy.of(org.bucket_policies[lake.bucket])
    for role in (EXPORT, ACCESS):
        for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
            request = Request(action, f"arn:aws:s3:::{lake.bucket}/{key}", {"aws:SecureTransport": "true"})
            assert not org.decide(_role(ORDERS, role), request, bucket, LAKE), (role, action)
    # Its own folder, and nothing else, is open to its export role.
    own = Request("s3:PutObject", f"arn:aws:s3:::{lake.bucket}/exports/accounts/{ORDERS}/export-1/x.parquet", {"aws:SecureTransport": "true"})
    assert org.decide(_role(ORDERS, EXPORT), own, bucket, LAKE)


def test_an_export_into_another_accounts_folder_fails_and_writes_nothing(lake: EmulatedAccount) -> None:
    rds = _as(BILLING, ACCESS, "rds")
    rds.start_export_task(ExportTaskIdentifier="into-orders", SourceArn=_rds(BILLING, "cluster-snapshot", "rds:billing-aurora-2026-11-01-03-10"),
                          S3BucketName=lake.bucket, S3Prefix=f"exports/accounts/{ORDERS}/stolen", IamRoleArn=_role(BILLING, EXPORT), KmsKeyId=_key_arn(lake))
    lake.clock.advance(1000)
    task = lake.client("rds", BILLING).describe_export_tasks(ExportTaskIdentifier="into-orders")["ExportTasks"][0]
    assert task["Status"] == "FAILED" and "s3:PutObject" in task["FailureCause"]
    listed = lake.client("s3").list_objects_v2(Bucket=lake.bucket, Prefix=f"exports/accounts/{ORDERS}/stolen/")
    assert listed.get("KeyCount", 0) == 0


# ---------------------------------------------------------------- accounts outside the organization or its OUs


def test_accounts_outside_the_ous_or_the_organization_are_refused_by_the_policies(lake: EmulatedAccount, org: Organization) -> None:
    bucket = ResourcePolicy.of(org.bucket_policies[lake.bucket])
    key = ResourcePolicy.of(org.key_policies[_key_arn(lake)])
    for account in (SANDBOX, STRANGER):
        who = org.principal(_role(account, EXPORT))
        write = Request("s3:PutObject", f"arn:aws:s3:::{lake.bucket}/exports/accounts/{account}/x", {"aws:SecureTransport": "true"})
        assert bucket.verdict(who, write) == "none", account
        assert key.verdict(who, Request("kms:GenerateDataKey", _key_arn(lake))) == "none", account
        assert not org.bus_accepts(account, None), account
    # The stack set never reached the sandbox: no access role there for the lake to assume.
    assert SANDBOX not in org.sources and ORDERS in org.sources and BILLING in org.sources


def _assume_as(function: str, role_arn: str) -> str:
    from emulated_account.faults import calls_made_by

    with calls_made_by(function):
        try:
            boto3.client("sts", region_name=REGION).assume_role(RoleArn=role_arn, RoleSessionName="aurora-lake-test")
        except ClientError as error:
            return str(error.response["Error"]["Code"])
    return "ok"


def test_the_lake_assumes_only_its_access_role_in_the_ous_accounts(lake: EmulatedAccount) -> None:
    assert _assume_as("StartExportFunction", _role(ORDERS, ACCESS)) == "ok"
    assert _assume_as("ValidateInputFunction", _role(BILLING, ACCESS)) == "ok"
    for role in (_role(SANDBOX, ACCESS), _role(STRANGER, ACCESS), _role(ORDERS, EXPORT), _role(ORDERS, _admin(ORDERS))):
        assert _assume_as("StartExportFunction", role) == "AccessDenied", role
    assert _assume_as("NotifyFunction", _role(ORDERS, ACCESS)) == "AccessDenied"  # never calls RDS


def test_every_call_of_a_source_accounts_run_was_judged_and_allowed(lake: EmulatedAccount) -> None:
    before = len(lake.judged_calls)
    result = lake.run({"account_id": ORDERS, "cluster_identifier": "orders-aurora"})
    assert result.status == "SUCCEEDED", result.cause
    judged = lake.judged_calls[before:]
    actions = {action for _, action, _ in judged}
    assert {"rds:DescribeDBClusters", "rds:CreateDBClusterSnapshot", "rds:AddTagsToResource", "rds:StartExportTask",
            "iam:PassRole", "rds:DeleteDBClusterSnapshot", "rds:DescribeExportTasks"} <= actions
    # Only access roles ever act in a source account (another account's export event may wake a wait meanwhile).
    assert {role for role, _, _ in judged if f"::{ORDERS}:" in role} == {_role(ORDERS, ACCESS)}
    assert all(role.endswith(f":role/{ACCESS}") for role, _, _ in judged)
