"""source-account.yaml: what a source account gives the lake, and that it is exactly what the lake needs."""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

import pytest
from moto.events.models import EventPattern

from tools.cfn_resolve import Resolver
from tools.sam_translate import REPO_ROOT, load_template, translate

from .test_organization import LAKE, SOURCE_A, WITH_SOURCES, _backup_event, _deployed, _export_event, _snapshot_event

PATH = REPO_ROOT / "source-account.yaml"
ALLOWED = "orders-aurora,payments"
KEY = f"arn:aws:kms:us-east-1:{LAKE}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
REQUIRED = {"LakeAccountId": LAKE, "LakeStackName": "aurora-lake", "LakeBucketName": "lake-bucket", "LakeKmsKeyArn": KEY,
            "AllowedClusterIdentifiers": ALLOWED}
LAKE_BUS = f"arn:aws:events:us-east-1:{LAKE}:event-bus/default"


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return load_template(PATH)


def _physical(logical_id: str, attribute: str | None) -> str:
    names = {"SourceExportRole": f"arn:aws:iam::{SOURCE_A}:role/aurora-lake-source-export"}
    if attribute == "Arn" and logical_id in names:
        return names[logical_id]
    return f"<{logical_id}>" if attribute is None else f"<{logical_id}.{attribute}>"


def _deployed_source(source: dict[str, Any], **parameters: str) -> dict[str, dict[str, Any]]:
    resolver = Resolver(source, {**REQUIRED, **parameters}, physical=_physical, account=SOURCE_A)
    return {name: {**resource, "Properties": resolver.resolve(resource.get("Properties") or {})}
            for name, resource in source["Resources"].items() if resolver.resource_exists(name)}


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for policy in role["Properties"].get("Policies", []):
        statement = policy["PolicyDocument"]["Statement"]
        found += statement if isinstance(statement, list) else [statement]
    return found


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _grants(statements: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(action, resource) for s in statements if s["Effect"] == "Allow"
            for action in _as_list(s["Action"]) for resource in _as_list(s["Resource"])}


def _allowed(statements: list[dict[str, Any]], action: str, arn: str) -> bool:
    return any(fnmatch.fnmatchcase(action, a) and fnmatch.fnmatchcase(arn, r) for a, r in _grants(statements))


# --- the template itself ---------------------------------------------------------------------


def test_the_source_template_is_plain_cloudformation(source: dict[str, Any]) -> None:
    # A service-managed StackSet cannot process a transform (AWS::Serverless included).
    assert "Transform" not in source and "Globals" not in source
    assert not [r["Type"] for r in source["Resources"].values() if not r["Type"].startswith(("AWS::IAM::", "AWS::Events::", "AWS::SQS::"))]
    assert translate(PATH) == source  # deployed as written
    # Nor a macro or an include anywhere (Fn::Transform, AWS::Include), nor a nested stack (checked above).
    assert not re.search(r"Fn::Transform|!Transform|AWS::Include", PATH.read_text())


def test_every_parameter_is_described_constrained_and_grouped(source: dict[str, Any]) -> None:
    for name, spec in source["Parameters"].items():
        assert len(spec.get("Description", "")) >= 20, name
        assert {"AllowedPattern", "AllowedValues"} & set(spec), name
        if "AllowedPattern" in spec:
            assert spec.get("ConstraintDescription"), name
            if "Default" in spec:
                assert re.fullmatch(spec["AllowedPattern"], str(spec["Default"])), name
    grouped = [p for group in source["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"] for p in group["Parameters"]]
    assert sorted(grouped) == sorted(source["Parameters"])
    # What a StackSet must be given: the lake and this account's clusters; everything else has a default.
    assert {name for name, spec in source["Parameters"].items() if "Default" not in spec} == set(REQUIRED)


def test_every_arn_is_built_with_the_partition() -> None:
    assert [line.strip() for line in PATH.read_text().splitlines() if "arn:aws:" in line] == []


@pytest.mark.parametrize(("value", "valid"), [
    ("orders-aurora", True), (",".join(f"c{n}" for n in range(10)), True), (",".join(f"c{n}" for n in range(11)), False),
    ("", False), ("orders-", False), ("1orders", False), ("orders,*", False), ("orders, billing", False),
])
def test_allowed_clusters_of_a_source_account(source: dict[str, Any], value: str, valid: bool) -> None:
    assert bool(re.fullmatch(source["Parameters"]["AllowedClusterIdentifiers"]["AllowedPattern"], value)) is valid


# --- the access role ---------------------------------------------------------------------------


def test_only_the_lake_stacks_roles_may_assume_the_access_role(source: dict[str, Any]) -> None:
    role = _deployed_source(source)["SourceAccessRole"]["Properties"]
    assert role["RoleName"] == "aurora-lake-source-access"
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{LAKE}:root"}, "Action": "sts:AssumeRole",
                     "Condition": {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{LAKE}:role/aurora-lake-*"}}}
    pattern = trust["Condition"]["ArnLike"]["aws:PrincipalArn"]
    # The names CloudFormation gives the lake stack's roles match; roles of another stack or account do not.
    assert fnmatch.fnmatchcase(f"arn:aws:iam::{LAKE}:role/aurora-lake-StartExportRole-1A2B3C4D5E6F", pattern)
    assert not fnmatch.fnmatchcase(f"arn:aws:iam::{LAKE}:role/admin", pattern)
    assert not fnmatch.fnmatchcase(f"arn:aws:iam::333333333333:role/aurora-lake-StartExportRole-1A2B3C4D5E6F", pattern)


def _lake_rds_grants(cfn: dict[str, Any], allowed: str) -> set[tuple[str, str]]:
    """(RDS action, resource) of every lake function role, for ``allowed`` clusters, as if the lake were this account."""
    resolver = Resolver(cfn, {"AllowedClusterIdentifiers": allowed}, account=SOURCE_A)
    grants: set[tuple[str, str]] = set()
    for name, resource in cfn["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role" and resolver.resource_exists(name):
            statements = [s for p in resolver.resolve(resource["Properties"].get("Policies", [])) for s in _as_list(p["PolicyDocument"]["Statement"])]
            grants |= {(a, r) for a, r in _grants(statements) if a.startswith("rds:")}
    return grants


@pytest.mark.parametrize("allowed", ["orders-aurora", ALLOWED, ",".join(f"cluster-{n}" for n in range(10))])
def test_the_access_role_gets_exactly_the_lakes_own_rds_grants_for_its_clusters(cfn: dict[str, Any], source: dict[str, Any], allowed: str) -> None:
    role = _deployed_source(source, AllowedClusterIdentifiers=allowed)["SourceAccessRole"]
    granted = {(a, r) for a, r in _grants(_statements(role)) if a.startswith("rds:")}
    assert granted == _lake_rds_grants(cfn, allowed)
    for statement in _statements(role):
        if any(str(r).startswith("arn:*:rds:") for r in _as_list(statement["Resource"])):
            assert statement["Condition"] == {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}, statement["Sid"]


def test_the_access_role_touches_only_the_allowed_clusters(source: dict[str, Any]) -> None:
    statements = _statements(_deployed_source(source)["SourceAccessRole"])
    rds = f"arn:aws:rds:us-east-1:{SOURCE_A}"
    for cluster in ALLOWED.split(","):
        assert _allowed(statements, "rds:CreateDBClusterSnapshot", f"{rds}:cluster:{cluster}")
        assert _allowed(statements, "rds:StartExportTask", f"{rds}:cluster-snapshot:rds:{cluster}-2026-11-01-03-10")
        assert _allowed(statements, "rds:StartExportTask", f"{rds}:cluster:{cluster}")
    # A cluster of the account that is not allowed: nothing at all.
    for action in ("rds:CreateDBClusterSnapshot", "rds:StartExportTask", "rds:DescribeDBClusterSnapshots", "rds:DeleteDBClusterSnapshot",
                   "rds:AddTagsToResource"):
        for arn in (f"{rds}:cluster:payroll", f"{rds}:cluster-snapshot:payroll-lake-0123456789ab", f"{rds}:cluster-snapshot:rds:payroll-2026-11-01"):
            assert not _allowed(statements, action, arn), (action, arn)
    # No DB instance of a source account, no cluster modification, no data.
    for action in ("rds:CreateDBSnapshot", "rds:DeleteDBCluster", "rds:ModifyDBCluster", "rds:RestoreDBClusterFromSnapshot",
                   "rds:CopyDBClusterSnapshot", "rds:ModifyDBClusterSnapshotAttribute", "s3:GetObject", "kms:Decrypt"):
        assert not [r for a, r in _grants(statements) if fnmatch.fnmatchcase(action, a)], action


def test_the_access_role_deletes_only_the_snapshots_the_lake_took(source: dict[str, Any]) -> None:
    statements = _statements(_deployed_source(source)["SourceAccessRole"])
    deletable = {r for a, r in _grants(statements) if a == "rds:DeleteDBClusterSnapshot"}
    assert deletable == {f"arn:*:rds:*:*:cluster-snapshot:{c}-lake-*" for c in ALLOWED.split(",")}
    rds = f"arn:aws:rds:us-east-1:{SOURCE_A}:cluster-snapshot"
    assert _allowed(statements, "rds:DeleteDBClusterSnapshot", f"{rds}:orders-aurora-lake-0123456789ab")
    for kept in ("orders-aurora-before-migration", "rds:orders-aurora-2026-11-01-03-10", "awsbackup:job-3f6c2a1e",
                 "payroll-lake-0123456789ab"):
        assert not _allowed(statements, "rds:DeleteDBClusterSnapshot", f"{rds}:{kept}"), kept


def test_the_access_role_passes_only_the_export_role_and_uses_only_the_lake_key(source: dict[str, Any]) -> None:
    statements = _statements(_deployed_source(source)["SourceAccessRole"])
    assert {r for a, r in _grants(statements) if a.startswith("iam:")} == {f"arn:aws:iam::{SOURCE_A}:role/aurora-lake-source-export"}
    assert {a for a, _ in _grants(statements) if a.startswith("iam:")} == {"iam:PassRole"}
    kms = {(a, r) for a, r in _grants(statements) if a.startswith("kms:")}
    assert kms == {("kms:DescribeKey", KEY), ("kms:CreateGrant", KEY)}
    [grant] = [s for s in statements if s["Action"] == "kms:CreateGrant"]
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    stars = {a for a, r in _grants(statements) if r == "*"}
    assert stars == {"rds:DescribeExportTasks"}


# --- the export role ---------------------------------------------------------------------------


def test_the_export_role_writes_only_under_its_accounts_folder_of_the_lake_bucket(source: dict[str, Any]) -> None:
    role = _deployed_source(source)["SourceExportRole"]["Properties"]
    assert role["RoleName"] == "aurora-lake-source-export"
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {"Effect": "Allow", "Principal": {"Service": "export.rds.amazonaws.com"}, "Action": "sts:AssumeRole"}
    statements = _statements({"Properties": role})
    s3 = {(a, r) for a, r in _grants(statements) if a.startswith("s3:")}
    folder = f"arn:aws:s3:::lake-bucket/exports/accounts/{SOURCE_A}/*"
    assert s3 == {("s3:GetBucketLocation", "arn:aws:s3:::lake-bucket"), ("s3:ListBucket", "arn:aws:s3:::lake-bucket"),
                  ("s3:PutObject*", folder), ("s3:GetObject*", folder), ("s3:DeleteObject*", folder)}
    [listing] = [s for s in statements if s["Action"] == "s3:ListBucket"]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": f"exports/accounts/{SOURCE_A}/*"}}
    for other in (f"exports/accounts/222222222222/e/x.parquet", "exports/orders-prod/e/x.parquet", "athena-results/q.csv"):
        for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"):
            assert not _allowed(statements, action, f"arn:aws:s3:::lake-bucket/{other}"), (action, other)
    assert {(a, r) for a, r in _grants(statements) if a.startswith("kms:")} == {
        (a, KEY) for a in ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey")}
    assert {a.split(":")[0] for a, _ in _grants(statements)} == {"s3", "kms"}


def test_the_export_roles_folder_is_the_one_the_lake_bucket_opens_to_it(cfn: dict[str, Any], source: dict[str, Any]) -> None:
    from .test_organization import BUCKET, EXPORT_ROLE_A, _allows, _source_bucket_statements

    lake = _source_bucket_statements(cfn)
    role = _statements(_deployed_source(source)["SourceExportRole"])
    folder = next(r for a, r in _grants(role) if a == "s3:PutObject*")
    written = folder.replace("*", "export-1/orders/public.orders/part-00000.parquet")
    assert written.startswith(BUCKET + "/") and _allows(lake, EXPORT_ROLE_A, "s3:PutObject", written)


def test_role_names_and_prefix_follow_the_parameters(source: dict[str, Any]) -> None:
    deployed = _deployed_source(source, SourceAccessRoleName="lake-access", SourceExportRoleName="lake-export", LakeExportPrefix="raw/")
    assert deployed["SourceAccessRole"]["Properties"]["RoleName"] == "lake-access"
    assert deployed["SourceExportRole"]["Properties"]["RoleName"] == "lake-export"
    folder = {r for a, r in _grants(_statements(deployed["SourceExportRole"])) if a == "s3:PutObject*"}
    assert folder == {f"arn:aws:s3:::lake-bucket/raw/accounts/{SOURCE_A}/*"}


def test_a_permissions_boundary_reaches_every_role(source: dict[str, Any]) -> None:
    boundary = f"arn:aws:iam::{SOURCE_A}:policy/boundary"
    roles = [r for r in _deployed_source(source, PermissionsBoundaryArn=boundary).values() if r["Type"] == "AWS::IAM::Role"]
    assert len(roles) == 3 and all(r["Properties"]["PermissionsBoundary"] == boundary for r in roles)
    assert not [r for r in _deployed_source(source).values() if "PermissionsBoundary" in r["Properties"]]


# --- events forwarded to the lake -------------------------------------------------------------


def test_events_are_forwarded_as_they_are_to_the_lake_bus_with_a_role(source: dict[str, Any]) -> None:
    deployed = _deployed_source(source)
    rules = {n: r["Properties"] for n, r in deployed.items() if r["Type"] == "AWS::Events::Rule"}
    assert set(rules) == {"ForwardRdsEventsRule", "ForwardAwsBackupEventsRule"}
    for rule in rules.values():
        [target] = rule["Targets"]
        assert target["Arn"] == LAKE_BUS and target["RoleArn"] == "<ForwardEventsRole.Arn>"
        assert not {"Input", "InputPath", "InputTransformer"} & set(target)  # not allowed for a cross-account bus
        assert target["DeadLetterConfig"] == {"Arn": "<ForwardedEventsDeadLetterQueue.Arn>"}
        assert rule["EventPattern"]["account"] == [SOURCE_A]  # one hop: only this account's own events
    role = deployed["ForwardEventsRole"]["Properties"]
    assert _grants(_statements({"Properties": role})) == {("events:PutEvents", LAKE_BUS)}
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": SOURCE_A}}


def test_without_forwarding_nothing_is_forwarded(source: dict[str, Any]) -> None:
    deployed = _deployed_source(source, ForwardEvents="false")
    assert set(deployed) == {"SourceAccessRole", "SourceExportRole"}


@pytest.mark.parametrize(("event", "lake_rule"), [
    (lambda: _snapshot_event(SOURCE_A, "RDS-EVENT-0169"), "SourceSnapshotCreatedRule"),
    (lambda: _snapshot_event(SOURCE_A, "RDS-EVENT-0075"), "SourceSnapshotCreatedRule"),
    (lambda: _export_event(SOURCE_A, "RDS-EVENT-0164"), "SourceExportFinishedRule"),
    (lambda: _export_event(SOURCE_A, "RDS-EVENT-0162"), "SourceExportFinishedRule"),
    (lambda: _export_event(SOURCE_A, "RDS-EVENT-0236"), "SourceExportFinishedRule"),
    (lambda: _backup_event(SOURCE_A), "SourceAwsBackupJobCompletedRule"),
])
def test_what_a_source_forwards_the_lake_takes(cfn: dict[str, Any], source: dict[str, Any], event: Any, lake_rule: str) -> None:
    sample = event()
    forwarding = [r["Properties"] for r in _deployed_source(source).values() if r["Type"] == "AWS::Events::Rule"]
    assert [r for r in forwarding if EventPattern(None, r["EventPattern"]).matches_event(sample)], "the source must forward it"
    lake = _deployed(cfn, WITH_SOURCES)[lake_rule]["Properties"]
    assert EventPattern(None, lake["EventPattern"]).matches_event(sample)


def test_events_the_lake_has_no_use_for_stay_in_the_source(source: dict[str, Any]) -> None:
    forwarding = [EventPattern(None, r["Properties"]["EventPattern"]) for r in _deployed_source(source).values() if r["Type"] == "AWS::Events::Rule"]
    failed_backup = _backup_event(SOURCE_A)
    failed_backup["detail"]["state"] = "FAILED"
    db_instance_backup = _backup_event(SOURCE_A)
    db_instance_backup["detail"]["resourceType"] = "RDS"
    received = _snapshot_event(SOURCE_A)
    received["account"] = "333333333333"  # an event another account sent to this bus
    for event in (failed_backup, db_instance_backup, received, _snapshot_event(SOURCE_A, "RDS-EVENT-0042")):
        assert not any(p.matches_event(event) for p in forwarding), json.dumps(event)[:200]


def test_the_dead_letter_queue_takes_only_the_forwarding_rules_messages(source: dict[str, Any]) -> None:
    policy = _deployed_source(source)["ForwardedEventsDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]
    [allow] = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": ["<ForwardRdsEventsRule.Arn>", "<ForwardAwsBackupEventsRule.Arn>"]}}


# --- size -----------------------------------------------------------------------------------------


def test_the_access_role_fits_iam_limits_with_the_most_clusters(source: dict[str, Any]) -> None:
    from tests.security.test_iam_size import INLINE_POLICIES_PER_ROLE, PHYSICAL_PLACEHOLDER, _clusters, _most_clusters_accepted, _size

    count = _most_clusters_accepted(source)
    allowed = _clusters(count)
    assert re.fullmatch(source["Parameters"]["AllowedClusterIdentifiers"]["AllowedPattern"], allowed)
    resolver = Resolver(source, {**REQUIRED, "AllowedClusterIdentifiers": allowed, "LakeBucketName": "b" * 63,
                                 "LakeExportPrefix": "p" * 200 + "/", "LakeStackName": "s" * 128},
                        physical=lambda logical_id, attribute: PHYSICAL_PLACEHOLDER, region="us-gov-west-1")
    for name, resource in source["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role" and resolver.resource_exists(name):
            size = sum(_size(p["PolicyDocument"]) for p in resolver.resolve(resource["Properties"]["Policies"]))
            assert size <= INLINE_POLICIES_PER_ROLE, f"{name}: {size} characters with {count} clusters"


# --- the checks of make lint and make iam ------------------------------------------------------


@pytest.mark.slow
def test_the_source_template_lints_clean_and_a_broken_one_does_not(tmp_path: Any) -> None:
    from tools import lint_template

    assert lint_template.lint(PATH) == []
    broken = tmp_path / "source-account.yaml"
    broken.write_text(PATH.read_text().replace("MaximumRetryAttempts: 3", "MaximumRetryAttempts: 300", 1))
    assert any("E3034" in problem or "MaximumRetryAttempts" in problem for problem in lint_template.lint(broken))
    assert lint_template.main([str(PATH), str(broken)]) == 1


def test_every_iam_action_of_the_source_template_is_in_the_iam_reference() -> None:
    from tools import iam_reference

    template = translate(PATH)
    parameters = iam_reference.PARAMETERS_BY_TEMPLATE["source-account.yaml"]
    findings, skipped = iam_reference.check_template(template, parameters)
    assert findings == [] and skipped == []
    resolver = Resolver(template, parameters, physical=iam_reference.physical_names(template))
    checked = {logical_id for logical_id, _, _ in iam_reference.statements(template, resolver)}
    assert checked == {"SourceAccessRole", "SourceExportRole", "ForwardEventsRole", "ForwardedEventsDeadLetterQueuePolicy"}
