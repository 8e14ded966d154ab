"""The template's IAM policies stay within IAM's size limits with the most clusters it accepts."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tools.cfn_resolve import Resolver
from tools.sam_translate import REPO_ROOT, translate

# IAM quotas (IAM and AWS STS quotas): the inline policies of one role together, and one managed
# policy, counted without whitespace.
INLINE_POLICIES_PER_ROLE = 10_240
MANAGED_POLICY = 6_144
CLUSTER_IDENTIFIER_MAX_LENGTH = 63
# Longer than any ARN or name this stack's resources get, so the count errs on the safe side.
PHYSICAL_PLACEHOLDER = "arn:aws:service:us-gov-west-1:123456789012:" + "x" * 80


def _most_clusters_accepted(sam: dict[str, Any], parameter: str = "AllowedClusterIdentifiers") -> int:
    pattern = sam["Parameters"][parameter]["AllowedPattern"]
    return int(re.search(r"\{0,(\d+)\}\$$", pattern).group(1)) + 1  # type: ignore[union-attr]


def _clusters(count: int, first: str = "c") -> str:
    # Distinct identifiers of the longest length RDS allows (DB instance identifiers: 63 too).
    return ",".join(f"{first}{n:02d}".ljust(CLUSTER_IDENTIFIER_MAX_LENGTH, "x") for n in range(count))


def _size(document: Any) -> int:
    return len(json.dumps(document, separators=(",", ":")))


@pytest.fixture(scope="module")
def cfn() -> dict[str, Any]:
    return translate(REPO_ROOT / "template.yaml")


def test_the_template_accepts_at_least_twenty_clusters() -> None:
    from tools.sam_translate import load_template

    sam = load_template(REPO_ROOT / "template.yaml")
    assert _most_clusters_accepted(sam) >= 20
    allowed = _clusters(_most_clusters_accepted(sam))
    assert re.fullmatch(sam["Parameters"]["AllowedClusterIdentifiers"]["AllowedPattern"], allowed)


@pytest.mark.parametrize("every_option", [False, True])
def test_every_role_and_managed_policy_fits_iam_limits_with_the_most_clusters(cfn: dict[str, Any], every_option: bool) -> None:
    from tools.sam_translate import load_template

    sam = load_template(REPO_ROOT / "template.yaml")
    count = _most_clusters_accepted(sam)
    instances = _most_clusters_accepted(sam, "AllowedDBInstanceIdentifiers")
    assert re.fullmatch(sam["Parameters"]["AllowedDBInstanceIdentifiers"]["AllowedPattern"], _clusters(instances, "i"))
    parameters = {"AllowedClusterIdentifiers": _clusters(count), "AllowedDBInstanceIdentifiers": _clusters(instances, "i")}
    if every_option:  # every optional role and statement deployed
        parameters |= {"EnableSchedule": "true", "ScheduleClusterIdentifier": "c00".ljust(63, "x"),
                       "EnableSnapshotEventTrigger": "true", "EnableAwsBackupTrigger": "true",
                       "ExistingExportBucketName": "b" * 63,
                       "ExistingKmsKeyArn": "arn:aws:kms:us-east-1:123456789012:key/" + "1" * 36,
                       "OrganizationId": "o-" + "a" * 32,
                       "SourceOrganizationalUnitIds": ",".join(f"ou-{'a' * 32}-{n:032d}" for n in range(_most_clusters_accepted(sam, "SourceOrganizationalUnitIds")))}
    # With an organization the stack name is at most 30 characters (it names the source roles; docs/organization.md).
    resolver = Resolver(cfn, parameters, physical=lambda logical_id, attribute: PHYSICAL_PLACEHOLDER,
                        region="us-gov-west-1", account="123456789012", stack_name="s" * (30 if every_option else 128))
    roles = managed = 0
    for logical_id, resource in cfn["Resources"].items():
        if not resolver.resource_exists(logical_id):
            continue
        if resource["Type"] == "AWS::IAM::Role":
            policies = resolver.resolve(resource["Properties"].get("Policies", []))
            size = sum(_size(policy["PolicyDocument"]) for policy in policies)
            assert size <= INLINE_POLICIES_PER_ROLE, f"{logical_id}: {size} characters of inline policy with {count} clusters and {instances} DB instances"
            roles += 1
        elif resource["Type"] == "AWS::IAM::ManagedPolicy":
            size = _size(resolver.resolve(resource["Properties"]["PolicyDocument"]))
            assert size <= MANAGED_POLICY, f"{logical_id}: {size} characters with {count} clusters"
            managed += 1
        elif resource["Type"] == "AWS::IAM::Policy":
            raise AssertionError(f"{logical_id}: a standalone inline policy counts toward its roles' limit: add it to this test")
    assert roles >= 10 and managed >= 1
    # The scoped statements really name every cluster (not only some of them).
    start = resolver.resolve(cfn["Resources"]["StartExportRole"]["Properties"]["Policies"])
    named = json.dumps(start)
    assert all(f":cluster:{c}\"" in named for c in parameters["AllowedClusterIdentifiers"].split(","))
    assert all(f":snapshot:rds:{i}-*\"" in named for i in parameters["AllowedDBInstanceIdentifiers"].split(","))


# --- the organization: nothing grows with its accounts or databases -------------------------------

# Resource policy quotas: an S3 bucket policy 20 KB, a KMS key policy 32 KB (S3 User Guide, "Bucket
# policies"; KMS Developer Guide, "Quotas"), an EventBridge bus policy 10,240 characters (EventBridge
# User Guide, quotas: "Event bus policy size").
BUCKET_POLICY, KEY_POLICY, BUS_POLICY = 20 * 1024, 32 * 1024, 10_240
ACCOUNTS, SOURCES = 500, 5000


def _organization_sizes(cfn: dict[str, Any], organization: dict[str, str]) -> dict[str, int]:
    resolver = Resolver(cfn, {"AllowedClusterIdentifiers": "orders", **organization}, physical=lambda logical_id, attribute: PHYSICAL_PLACEHOLDER,
                        region="us-gov-west-1", account="123456789012", stack_name="s" * 30)
    bus = resolver.resolve(cfn["Resources"]["SourceAccountsEventBusPolicy"]["Properties"]["Statement"])
    sizes = {
        "bucket policy": _size(resolver.resolve(cfn["Resources"]["ExportBucketPolicy"]["Properties"]["PolicyDocument"])),
        "key policy": _size(resolver.resolve(cfn["Resources"]["ExportKey"]["Properties"]["KeyPolicy"])),
        "bus policy statement": _size(bus),
    }
    for logical_id, resource in cfn["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role" and resolver.resource_exists(logical_id):
            size = sum(_size(p["PolicyDocument"]) for p in resolver.resolve(resource["Properties"].get("Policies", [])))
            sizes["largest function role"] = max(sizes.get("largest function role", 0), size)
    return sizes


def test_the_lakes_policies_fit_their_limits_for_an_organization_of_500_accounts_and_5000_sources(cfn: dict[str, Any]) -> None:
    from emulated_account import data, organization
    from emulated_account.iam_policy import Policy, Request, ResourcePolicy, decide
    from moto import mock_aws

    ous = ",".join(f"ou-{'a' * 32}-{n:032d}" for n in range(4))
    sizes = _organization_sizes(cfn, {"OrganizationId": "o-" + "a" * 32, "SourceOrganizationalUnitIds": ous})
    print("policy sizes (characters, no whitespace):", sizes)
    assert sizes["bucket policy"] <= BUCKET_POLICY and sizes["key policy"] <= KEY_POLICY and sizes["bus policy statement"] <= BUS_POLICY
    assert sizes["largest function role"] <= INLINE_POLICIES_PER_ROLE
    # No parameter takes accounts or databases: the same policies serve an organization of any size.
    assert [name for name in cfn["Parameters"] if name.startswith("Source")] == ["SourceOrganizationalUnitIds"]
    # 500 member accounts (5,000 sources: their tags live in their accounts, nowhere in the lake):
    # the last one's export role, in the targeted OU, is let in by the same policy; one outside is not.
    resolver = Resolver(cfn, {"AllowedClusterIdentifiers": "orders", "OrganizationId": data.ORGANIZATION_ID, "SourceOrganizationalUnitIds": data.WORKLOADS_OU},
                        physical=lambda logical_id, attribute: "lake-bucket" if attribute is None else "arn:aws:s3:::lake-bucket", stack_name="aurora-lake")
    bucket = ResourcePolicy.of(resolver.resolve(cfn["Resources"]["ExportBucketPolicy"]["Properties"]["PolicyDocument"]))
    anything = Policy.of([{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}])
    with mock_aws():
        organization.create_organization("us-east-1", accounts={})
        members = [f"{600_000_000_000 + n:012d}" for n in range(ACCOUNTS)]
        for account in members:
            organization.add_account(account, data.PRODUCTION_OU)
        organization.add_account("777777777777", data.SANDBOX_OU)
        org = organization.Organization("123456789012", "us-east-1")
        assert len(organization.accounts_in([data.WORKLOADS_OU])) == ACCOUNTS
        for account, allowed in ((members[-1], True), ("777777777777", False)):
            who = org.principal(f"arn:aws:iam::{account}:role/aurora-lake-source-export-us-east-1")
            put = Request("s3:PutObject", f"arn:aws:s3:::lake-bucket/exports/accounts/{account}/e/x.parquet", {"aws:SecureTransport": "true"})
            assert decide(who, put, anything, bucket, "123456789012") is allowed, account
    assert SOURCES > ACCOUNTS  # the sources' count appears nowhere above: the lake names none
