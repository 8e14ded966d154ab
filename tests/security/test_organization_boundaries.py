"""Least privilege across accounts, judged on the policies the two templates deploy.

The lake (template.yaml with two source accounts) and source-account.yaml in each source account
are deployed in the emulated account; their role, bucket, key and bus policies are then judged
with the IAM evaluator (``emulated_account.iam_policy``), across accounts as IAM does: the
principal's identity policy and the resource's policy must both allow (RDS has no resource
policies, so a role reaches RDS of its own account only).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from emulated_account import EmulatedAccount, data
from emulated_account.iam_policy import Policy, Principal, Request, ResourcePolicy, decide
from emulated_account.organization import Organization

ORDERS, BILLING = data.SOURCE_ACCOUNT_IDS
LAKE, STRANGER = data.ACCOUNT_ID, data.STRANGER_ACCOUNT_ID
REGION = data.REGION
ORGANIZATION = {"SourceAccountIds": ",".join(data.SOURCE_ACCOUNT_IDS), "SourceAccountClusters": ",".join(data.ALLOWED_SOURCE_CLUSTERS)}
IN_REGION = {"aws:RequestedRegion": REGION}
NO_RDS_RESOURCE_POLICY = ResourcePolicy([])  # Aurora has no resource-based policies
EVENTS = Path(__file__).resolve().parents[2] / "events"


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


def _access(account: str) -> str:
    return _role(account, "aurora-lake-source-access")


def _export_role(account: str) -> str:
    return _role(account, "aurora-lake-source-export")


def _rds(account: str, kind: str, name: str) -> str:
    return f"arn:aws:rds:{REGION}:{account}:{kind}:{name}"


def _rds_allowed(org: Organization, role_arn: str, action: str, resource: str) -> bool:
    """Whether ``role_arn`` may call RDS ``action`` on ``resource`` (its own account's RDS only)."""
    who = Principal(arn=role_arn)
    return decide(who, Request(action, resource, IN_REGION), org.role_policy(role_arn), NO_RDS_RESOURCE_POLICY, resource.split(":")[4])


def _bucket_allowed(org: Organization, lake: EmulatedAccount, role_arn: str, action: str, resource: str, context: dict[str, str] | None = None) -> bool:
    policy = ResourcePolicy.of(org.bucket_policies[lake.bucket])
    request = Request(action, resource, {"aws:SecureTransport": "true", **(context or {})})
    return decide(Principal(arn=role_arn), request, org.role_policy(role_arn), policy, LAKE)


@pytest.mark.parametrize("account, cluster", [(ORDERS, "orders-aurora"), (BILLING, "billing-aurora")])
def test_a_source_access_role_exports_its_allowed_clusters(org: Organization, account: str, cluster: str) -> None:
    role = _access(account)
    assert _rds_allowed(org, role, "rds:StartExportTask", _rds(account, "cluster-snapshot", f"rds:{cluster}-2026-11-01-03-10"))
    assert _rds_allowed(org, role, "rds:CreateDBClusterSnapshot", _rds(account, "cluster", cluster))
    assert _rds_allowed(org, role, "rds:DeleteDBClusterSnapshot", _rds(account, "cluster-snapshot", f"{cluster}-lake-0123456789ab"))


@pytest.mark.parametrize(
    "account, resource",
    [
        pytest.param(ORDERS, _rds(ORDERS, "cluster", "orders-secrets"), id="not-allowed-cluster"),
        pytest.param(ORDERS, _rds(ORDERS, "cluster-snapshot", "orders-secrets-manual-2026-11-01"), id="not-allowed-cluster-snapshot"),
        pytest.param(BILLING, _rds(BILLING, "cluster-snapshot", "billing-payroll-manual-2026-11-01"), id="not-allowed-in-the-other-source"),
        pytest.param(ORDERS, _rds(BILLING, "cluster-snapshot", "rds:billing-aurora-2026-11-01-03-10"), id="allowed-cluster-of-another-account"),
        pytest.param(BILLING, _rds(ORDERS, "cluster", "orders-aurora"), id="cluster-allowed-in-another-account"),
    ],
)
def test_a_source_access_role_cannot_export_a_cluster_it_is_not_allowed(org: Organization, account: str, resource: str) -> None:
    for action in ("rds:StartExportTask", "rds:CreateDBClusterSnapshot", "rds:DescribeDBClusterSnapshots"):
        assert not _rds_allowed(org, _access(account), action, resource), action


@pytest.mark.parametrize(
    "snapshot",
    [
        "rds:orders-aurora-2026-11-01-03-10",  # automated
        "orders-aurora-manual-2026-11-01",  # a user's manual snapshot
        "awsbackup:job-3f6c2a1e-8b4d-4c57-9e21-7a0d5b9c4e18",  # an AWS Backup recovery point
        "orders-secrets-lake-0123456789ab",  # named like the lake's, of a cluster not allowed
    ],
)
def test_the_lake_cannot_delete_a_snapshot_it_did_not_take(org: Organization, snapshot: str) -> None:
    assert not _rds_allowed(org, _access(ORDERS), "rds:DeleteDBClusterSnapshot", _rds(ORDERS, "cluster-snapshot", snapshot))


def test_no_role_of_the_lake_reaches_rds_of_a_source_account_but_through_its_access_role(lake: EmulatedAccount, org: Organization) -> None:
    lake_roles = sorted({spec.role_arn for spec in lake.functions.values()} | {lake.state_machine_role_arn})
    resources = [_rds(ORDERS, "cluster", "orders-aurora"), _rds(ORDERS, "cluster-snapshot", "orders-aurora-lake-0123456789ab")]
    for role in lake_roles:
        for resource in resources:
            for action in ("rds:StartExportTask", "rds:CreateDBClusterSnapshot", "rds:DeleteDBClusterSnapshot", "rds:DescribeDBClusterSnapshots"):
                assert not _rds_allowed(org, role, action, resource), f"{role} {action} {resource}"


def test_one_source_account_cannot_read_or_list_another_s_exports(lake: EmulatedAccount, org: Organization) -> None:
    bucket = f"arn:aws:s3:::{lake.bucket}"
    orders_object = f"{bucket}/exports/accounts/{ORDERS}/orders-aurora-lake-0123456789ab/export_info.json"
    billing_object = f"{bucket}/exports/accounts/{BILLING}/billing-aurora-lake-0123456789ab/export_info.json"
    # Each export role reads and writes its own folder...
    assert _bucket_allowed(org, lake, _export_role(ORDERS), "s3:GetObject", orders_object)
    assert _bucket_allowed(org, lake, _export_role(BILLING), "s3:PutObject", billing_object)
    assert _bucket_allowed(org, lake, _export_role(BILLING), "s3:ListBucket", bucket, {"s3:prefix": f"exports/accounts/{BILLING}/"})
    # ...and nothing of the other's, nor of the lake's own exports.
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
        assert not _bucket_allowed(org, lake, _export_role(BILLING), action, orders_object), action
        assert not _bucket_allowed(org, lake, _export_role(ORDERS), action, billing_object), action
        assert not _bucket_allowed(org, lake, _export_role(ORDERS), action, f"{bucket}/exports/demo-aurora-cluster/x.parquet"), action
    assert not _bucket_allowed(org, lake, _export_role(BILLING), "s3:ListBucket", bucket, {"s3:prefix": f"exports/accounts/{ORDERS}/"})
    # The access role (the lake's functions in the source account) reads no export at all.
    assert not _bucket_allowed(org, lake, _access(ORDERS), "s3:GetObject", orders_object)


def test_a_third_account_cannot_write_into_the_lake_even_with_the_role_names(lake: EmulatedAccount, org: Organization) -> None:
    bucket_policy = ResourcePolicy.of(org.bucket_policies[lake.bucket])
    stranger_role = Principal(arn=_export_role(STRANGER))
    own_everything = Policy.of([{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}])
    write = Request("s3:PutObject", f"arn:aws:s3:::{lake.bucket}/exports/accounts/{STRANGER}/x.parquet", {"aws:SecureTransport": "true"})
    assert not decide(stranger_role, write, own_everything, bucket_policy, LAKE)
    key_arn = lake.functions["StartExportFunction"].environment["EXPORT_KMS_KEY_ARN"]
    key_policy = ResourcePolicy.of(org.key_policies[key_arn])
    assert not decide(stranger_role, Request("kms:GenerateDataKey", key_arn), own_everything, key_policy, LAKE)
    assert decide(Principal(arn=_export_role(ORDERS)), Request("kms:GenerateDataKey", key_arn), org.role_policy(_export_role(ORDERS)), key_policy, LAKE)


def test_only_the_source_accounts_may_put_events_on_the_lake_bus(org: Organization) -> None:
    assert org.bus_accepts(ORDERS, None) and org.bus_accepts(BILLING, None)
    assert not org.bus_accepts(STRANGER, None)


def _trust(lake: EmulatedAccount, account: str) -> ResourcePolicy:
    role = lake.client("iam", account).get_role(RoleName="aurora-lake-source-access")["Role"]
    document: Any = role["AssumeRolePolicyDocument"]
    return ResourcePolicy.of(json.loads(document) if isinstance(document, str) else document, trust=True)


def test_only_the_lake_stack_s_roles_may_assume_a_source_access_role(lake: EmulatedAccount, org: Organization) -> None:
    start_export_role = lake.functions["StartExportFunction"].role_arn
    assume = Request("sts:AssumeRole", _access(ORDERS), {"aws:ResourceAccount": ORDERS})
    assert decide(Principal(arn=start_export_role), assume, org.role_policy(start_export_role), _trust(lake, ORDERS), ORDERS)
    # Another stack's role in the lake account, and a role of a third account, are not trusted.
    anyone = Policy.of([{"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}])
    for outsider in (_role(LAKE, "other-stack-Function-ABC"), _role(STRANGER, "aurora-lake-StartExportFunctionRole-ABC")):
        assert not decide(Principal(arn=outsider), assume, anyone, _trust(lake, ORDERS), ORDERS), outsider
    # The lake's roles assume access roles only in the source accounts it lists.
    stranger_assume = Request("sts:AssumeRole", _access(STRANGER), {"aws:ResourceAccount": STRANGER})
    assert not org.role_policy(start_export_role).allows(stranger_assume)


# ---------------------------------------------------------------- the calls an organization's runs make
def _source_requests(call: Any, account: str, region: str = REGION) -> list[tuple[str, Request]]:
    """(who must allow, request) for an RDS call made in a source account: "role" for the access
    role's own policy, "key" for RDS using the lake key with the caller's permissions."""
    p = call.params

    def cluster(name: str) -> str:
        return _rds(account, "cluster", name)

    def snapshot(name: str) -> str:
        return name if name.startswith("arn:") else _rds(account, "cluster-snapshot", name)

    operation = call.operation
    if operation == "CreateDBClusterSnapshot":
        resources = [cluster(p["DBClusterIdentifier"]), snapshot(p["DBClusterSnapshotIdentifier"])]
        return [("role", Request("rds:CreateDBClusterSnapshot", r, IN_REGION)) for r in resources] + [
            ("role", Request("rds:AddTagsToResource", snapshot(p["DBClusterSnapshotIdentifier"]), IN_REGION))
        ] * bool(p.get("Tags"))
    if operation == "DescribeDBClusterSnapshots":
        target = snapshot(p["DBClusterSnapshotIdentifier"]) if "DBClusterSnapshotIdentifier" in p else cluster(p["DBClusterIdentifier"])
        return [("role", Request("rds:DescribeDBClusterSnapshots", target, IN_REGION))]
    if operation == "DescribeDBClusters":
        return [("role", Request("rds:DescribeDBClusters", cluster(p["DBClusterIdentifier"]), IN_REGION))]
    if operation == "DeleteDBClusterSnapshot":
        return [("role", Request("rds:DeleteDBClusterSnapshot", snapshot(p["DBClusterSnapshotIdentifier"]), IN_REGION))]
    if operation in ("DescribeExportTasks", "CancelExportTask"):
        return [("role", Request(f"rds:{operation}", "*", IN_REGION))]
    if operation == "StartExportTask":
        return [
            ("role", Request("rds:StartExportTask", p["SourceArn"], IN_REGION)),
            ("role", Request("iam:PassRole", p["IamRoleArn"], {"iam:PassedToService": "rds.amazonaws.com"})),
            ("key", Request("kms:CreateGrant", p["KmsKeyId"], {"kms:GrantIsForAWSResource": "true"})),
            ("key", Request("kms:DescribeKey", p["KmsKeyId"])),
        ]
    raise AssertionError(f"no IAM mapping for rds:{operation} made in {account}: add one before judging it")


@pytest.mark.slow
def test_every_call_of_organization_runs_into_a_source_account_is_allowed_by_its_access_role(org: Organization, lake: EmulatedAccount) -> None:
    from emulated_account.organization import principal_of

    # The fleet exports existing automated snapshots; the single runs take, export and delete new ones.
    fleet = lake.run_fleet(json.loads((EVENTS / "organization.json").read_text()))
    assert fleet.status == "SUCCEEDED", fleet.cause
    for account, cluster in ((ORDERS, "orders-aurora"), (BILLING, "billing-aurora")):
        single = lake.run({"account_id": account, "cluster_identifier": cluster})
        assert single.status == "SUCCEEDED", single.cause
    operations = set()
    key_arn = lake.functions["StartExportFunction"].environment["EXPORT_KMS_KEY_ARN"]
    key_policy = ResourcePolicy.of(org.key_policies[key_arn])
    judged: dict[str, int] = {}
    refused = []
    for call in lake.calls.calls:
        account, role = principal_of(call.access_key) if call.access_key else (LAKE, None)
        if account == LAKE:
            continue
        # Nothing but RDS goes into a source account, and only as its access role.
        assert (call.service, role) == ("rds", _access(account)), (call.service, call.operation, role)
        for whose, request in _source_requests(call, account):
            who = Principal(arn=role)
            allowed = (
                decide(who, request, org.role_policy(role), NO_RDS_RESOURCE_POLICY, account)
                if whose == "role"
                else decide(who, request, org.role_policy(role), key_policy, LAKE)
            )
            if not allowed:
                refused.append(f"{call.caller} {call.operation}: {request}")
        judged[account] = judged.get(account, 0) + 1
        operations.add(call.operation)
    assert not refused, "\n".join(refused)
    assert {"CreateDBClusterSnapshot", "StartExportTask", "DeleteDBClusterSnapshot", "DescribeExportTasks"} <= operations
    assert set(judged) == set(data.SOURCE_ACCOUNT_IDS)  # both accounts were reached, and judged


def _assume_as(function: str, role_arn: str) -> str:
    """AssumeRole of ``role_arn`` from inside ``function``'s handler (as its role): the error code, or "ok"."""
    import boto3
    from botocore.exceptions import ClientError

    from emulated_account.faults import calls_made_by

    with calls_made_by(function):
        try:
            boto3.client("sts", region_name=REGION).assume_role(RoleArn=role_arn, RoleSessionName="aurora-lake-test")
        except ClientError as error:
            return str(error.response["Error"]["Code"])
    return "ok"


def test_the_emulated_sts_lets_a_lake_function_assume_only_what_iam_would(lake: EmulatedAccount) -> None:
    assert _assume_as("StartExportFunction", _access(ORDERS)) == "ok"
    # No access role in a third account (nothing deployed there), and the export role trusts RDS only.
    assert _assume_as("StartExportFunction", _access(STRANGER)) == "AccessDenied"
    assert _assume_as("StartExportFunction", _export_role(ORDERS)) == "AccessDenied"
    # A function that never calls RDS has no sts:AssumeRole at all.
    assert "NotifyFunction" in lake.functions
    assert _assume_as("NotifyFunction", _access(ORDERS)) == "AccessDenied"
