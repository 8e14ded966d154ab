"""The emulated organization: the lake account and two source accounts in one moto.

The lake is template.yaml deployed without SourceAccountIds (so its bucket, key and bus policies
grant no source account anything) beside two source accounts given by the ``source_accounts``
option, each with source-account.yaml: these tests prove the emulated account's own behaviour
(accounts kept apart, writes into the lake bucket and events onto its bus decided by the lake's
policies), granting what the lake grants by hand where a test needs it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest

from emulated_account import EmulatedAccount, data
from emulated_account.account import DEFAULT_TEMPLATE

SOURCE_TEMPLATE = DEFAULT_TEMPLATE.parent / "source-account.yaml"
ORDERS, BILLING = data.SOURCE_ACCOUNT_IDS
ORDERS_SNAPSHOT = f"arn:aws:rds:us-east-1:{ORDERS}:cluster-snapshot:rds:orders-aurora-2026-11-01-03-10"
BILLING_SNAPSHOT = f"arn:aws:rds:us-east-1:{BILLING}:cluster-snapshot:rds:billing-aurora-2026-11-01-03-10"


def _lake_grants(bucket: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The statements the contract gives the lake's bucket, key and bus policies for its source accounts."""
    sources = list(data.SOURCE_ACCOUNT_IDS)
    export_role = "arn:aws:iam::*:role/aurora-lake-source-export"
    bucket_statement = {
        "Sid": "SourceAccountsWriteOwnExports",
        "Effect": "Allow",
        "Principal": {"AWS": sources},
        "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
        "Resource": f"arn:aws:s3:::{bucket}/exports/accounts/${{aws:PrincipalAccount}}/*",
        "Condition": {"ArnLike": {"aws:PrincipalArn": export_role}},
    }
    key_statement = {
        "Sid": "SourceAccountsExportWithKey",
        "Effect": "Allow",
        "Principal": {"AWS": sources},
        "Action": ["kms:GenerateDataKey*", "kms:Decrypt", "kms:CreateGrant", "kms:DescribeKey"],
        "Resource": "*",
        "Condition": {"ArnLike": {"aws:PrincipalArn": ["arn:aws:iam::*:role/aurora-lake-source-access", export_role]}},
    }
    bus_statement = {
        "Sid": "SourceAccountsPutEvents",
        "Effect": "Allow",
        "Principal": {"AWS": sources},
        "Action": "events:PutEvents",
        "Resource": f"arn:aws:events:us-east-1:{data.ACCOUNT_ID}:event-bus/default",
    }
    return bucket_statement, key_statement, bus_statement


@pytest.fixture(scope="module")
def organization() -> Iterator[EmulatedAccount]:
    allowed = {ORDERS: ["orders-aurora"], BILLING: ["billing-aurora"]}
    with EmulatedAccount(DEFAULT_TEMPLATE, source_accounts=allowed, source_template=SOURCE_TEMPLATE) as account:
        yield account


def _start_export(account: EmulatedAccount, source: str, snapshot_arn: str, prefix_account: str, task_id: str) -> dict[str, Any]:
    rds = account.client("rds", source)
    key = account.functions["StartExportFunction"].environment["EXPORT_KMS_KEY_ARN"]
    rds.start_export_task(
        ExportTaskIdentifier=task_id,
        SourceArn=snapshot_arn,
        S3BucketName=account.bucket,
        S3Prefix=f"exports/accounts/{prefix_account}/run",
        IamRoleArn=f"arn:aws:iam::{source}:role/aurora-lake-source-export",
        KmsKeyId=key,
    )
    account.clock.advance(1000)
    task: dict[str, Any] = rds.describe_export_tasks(ExportTaskIdentifier=task_id)["ExportTasks"][0]
    return task


def _keys(account: EmulatedAccount, prefix: str) -> list[str]:
    listed = account.client("s3").list_objects_v2(Bucket=account.bucket, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


def test_each_account_has_its_own_clusters_and_the_source_template_deployed(organization: EmulatedAccount) -> None:
    def clusters(account_id: str | None) -> set[str]:
        return {c["DBClusterIdentifier"] for c in organization.client("rds", account_id).describe_db_clusters()["DBClusters"]}

    assert clusters(None) == {c.identifier for c in data.CLUSTERS}
    assert clusters(ORDERS) == {c.identifier for c in data.SOURCE_ACCOUNT_CLUSTERS[ORDERS]}
    assert clusters(BILLING) == {c.identifier for c in data.SOURCE_ACCOUNT_CLUSTERS[BILLING]}
    # A cluster name of the lake recurs in a source account, as two clusters.
    assert "demo-aurora-cluster" in clusters(ORDERS)
    roles = {r["RoleName"] for r in organization.client("iam", ORDERS).list_roles()["Roles"]}
    assert {"aurora-lake-source-access", "aurora-lake-source-export"} <= roles
    assert "aurora-lake-source-access" not in {r["RoleName"] for r in organization.client("iam").list_roles()["Roles"]}
    assert organization.organization is not None
    deployed_rules = [name for name, _ in organization.organization.sources[ORDERS].rules]
    assert "ForwardRdsEventsRule" in deployed_rules
    queues = organization.client("sqs", ORDERS).list_queues().get("QueueUrls", [])
    assert len(queues) == 1 and f"/{ORDERS}/" in queues[0]  # the forwarding rules' dead-letter queue


def test_an_export_is_refused_by_a_lake_bucket_whose_policy_names_no_source_account(organization: EmulatedAccount) -> None:
    task = _start_export(organization, ORDERS, ORDERS_SNAPSHOT, ORDERS, "no-grant")
    assert task["Status"] == "FAILED"
    assert "s3:PutObject" in task["FailureCause"] and organization.bucket in task["FailureCause"]
    assert _keys(organization, f"exports/accounts/{ORDERS}/run/no-grant/") == []


def test_exports_land_in_the_lake_only_under_the_writing_account_s_prefix(organization: EmulatedAccount) -> None:
    org = organization.organization
    assert org is not None
    key_arn = organization.functions["StartExportFunction"].environment["EXPORT_KMS_KEY_ARN"]
    saved = copy.deepcopy((org.bucket_policies, org.key_policies))
    bucket_statement, key_statement, _ = _lake_grants(organization.bucket)
    org.bucket_policies.setdefault(organization.bucket, {"Statement": []})["Statement"].append(bucket_statement)
    org.key_policies[key_arn]["Statement"].append(key_statement)
    try:
        written = _start_export(organization, ORDERS, ORDERS_SNAPSHOT, ORDERS, "own-prefix")
        assert written["Status"] == "COMPLETE"
        assert _keys(organization, f"exports/accounts/{ORDERS}/run/own-prefix/")
        # The export task is the source account's, not the lake's.
        assert [t["account_id"] for t in organization.export_tasks() if t["id"] == "own-prefix"] == [ORDERS]
        # The billing account's export role writing under the orders account's prefix: refused.
        foreign = _start_export(organization, BILLING, BILLING_SNAPSHOT, ORDERS, "foreign-prefix")
        assert foreign["Status"] == "FAILED"
        assert _keys(organization, f"exports/accounts/{ORDERS}/run/foreign-prefix/") == []
    finally:
        org.bucket_policies, org.key_policies = saved


def test_events_reach_the_lake_bus_only_from_accounts_its_policy_allows(organization: EmulatedAccount) -> None:
    org, events = organization.organization, organization.events
    assert org is not None and events is not None
    event = {
        "version": "0", "id": "0", "detail-type": "RDS DB Cluster Snapshot Event", "source": "aws.rds",
        "time": "2026-12-01T00:00:00Z", "region": "us-east-1", "resources": [ORDERS_SNAPSHOT],
        "detail": {"EventID": "RDS-EVENT-0075", "SourceArn": ORDERS_SNAPSHOT, "SourceType": "CLUSTER_SNAPSHOT", "Message": "x", "SourceIdentifier": "x"},
    }
    refused_before = len(events.refused)
    events.put_source_event(ORDERS, event, organization.clock.now())
    events.wait(1)
    # template.yaml alone grants no account PutEvents on the lake bus.
    assert [r.sender for r in events.refused[refused_before:] if r.event["detail"].get("EventID") == "RDS-EVENT-0075"] == [ORDERS]
    # The refused event is kept in the rule's dead-letter queue, in the source account.
    sqs = organization.client("sqs", ORDERS)
    [queue] = sqs.list_queues()["QueueUrls"]
    kept = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])
    kept_0075 = [m for m in kept if json.loads(m["Body"])["detail"].get("EventID") == "RDS-EVENT-0075"]
    assert len(kept_0075) == 1
    assert kept_0075[0]["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "CROSS_ACCOUNT_INGESTION_FAILED"

    _, _, bus_statement = _lake_grants(organization.bucket)
    saved = copy.deepcopy(org.bus_policy)
    org.bus_policy = {"Statement": [bus_statement]}
    try:
        delivered_before = len(events.deliveries)
        events.put_source_event(ORDERS, event, organization.clock.now())
        events.wait(1)
        forwarded = [d for d in events.deliveries[delivered_before:] if d.rule == f"{ORDERS}:ForwardRdsEventsRule"]
        assert len(forwarded) == 1 and forwarded[0].event["account"] == ORDERS
        # A third account, in no one's SourceAccountIds, cannot put anything on the lake bus,
        # and no sender can claim another account: EventBridge stamps the sender's.
        assert events.put_event_from(data.STRANGER_ACCOUNT_ID, {**event, "account": ORDERS}, organization.clock.now()) is False
        assert events.refused[-1].event["account"] == data.STRANGER_ACCOUNT_ID
    finally:
        org.bus_policy = saved


def test_an_export_end_in_a_source_account_is_published_on_its_own_bus(organization: EmulatedAccount) -> None:
    events = organization.events
    assert events is not None
    task = _start_export(organization, BILLING, BILLING_SNAPSHOT, BILLING, "billing-event")
    assert task["Status"] == "FAILED"  # the lake grants nothing here; the event is published all the same
    events.wait(10)
    published = [e for e in events.published if e["resources"] == [BILLING_SNAPSHOT]]
    assert published and {e["account"] for e in published} == {BILLING}
    assert published[-1]["detail"]["EventID"] == "RDS-EVENT-0162"


def test_each_account_has_its_own_five_concurrent_exports(organization: EmulatedAccount) -> None:
    from botocore.exceptions import ClientError

    lake_rds = organization.client("rds")
    key = organization.functions["StartExportFunction"].environment["EXPORT_KMS_KEY_ARN"]
    role = organization.functions["StartExportFunction"].environment.get("EXPORT_ROLE_ARN") or organization.template.get_att("ExportRole", "Arn")
    snapshots = [s["DBClusterSnapshotArn"] for s in lake_rds.describe_db_cluster_snapshots()["DBClusterSnapshots"] if s["Status"] == "available"]
    snapshots += [s["DBSnapshotArn"] for s in lake_rds.describe_db_snapshots()["DBSnapshots"] if s["Status"] == "available" and s["Engine"] == "postgres"]
    assert len(snapshots) >= 6
    for index, arn in enumerate(snapshots[:5]):
        lake_rds.start_export_task(ExportTaskIdentifier=f"lake-quota-{index}", SourceArn=arn, S3BucketName=organization.bucket, S3Prefix="exports/quota", IamRoleArn=role, KmsKeyId=key)
    with pytest.raises(ClientError) as refused:
        lake_rds.start_export_task(ExportTaskIdentifier="lake-quota-6", SourceArn=snapshots[5], S3BucketName=organization.bucket, S3Prefix="exports/quota", IamRoleArn=role, KmsKeyId=key)
    assert refused.value.response["Error"]["Code"] == "ExportTaskLimitReachedFault"
    # The lake's five take nothing from a source account's own five.
    organization.client("rds", ORDERS).start_export_task(
        ExportTaskIdentifier="orders-beside-a-full-lake", SourceArn=ORDERS_SNAPSHOT, S3BucketName=organization.bucket,
        S3Prefix=f"exports/accounts/{ORDERS}/quota", IamRoleArn=f"arn:aws:iam::{ORDERS}:role/aurora-lake-source-export", KmsKeyId=key,
    )
    organization.clock.advance(1000)  # let them all end before the module's next test
