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

from emulated_account.iam_policy import Policy, Principal, Request, ResourcePolicy, decide

from .test_organization import LAKE, SOURCE_A, WITH_ORG, _backup_event, _db_snapshot_event, _deployed, _export_event, _snapshot_event

PATH = REPO_ROOT / "source-account.yaml"
KEY = f"arn:aws:kms:us-east-1:{LAKE}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
REQUIRED = {"LakeAccountId": LAKE, "LakeStackName": "aurora-lake", "LakeBucketName": "lake-bucket", "LakeKmsKeyArn": KEY}
ACCESS = f"arn:aws:iam::{SOURCE_A}:role/aurora-lake-source-access-us-east-1"
EXPORT = f"arn:aws:iam::{SOURCE_A}:role/aurora-lake-source-export-us-east-1"
RDS = f"arn:aws:rds:us-east-1:{SOURCE_A}"
OPTED_IN = {"aurora-lake:export": "aurora-lake"}
LAKE_BUS = f"arn:aws:events:us-east-1:{LAKE}:event-bus/default"


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return load_template(PATH)


def _physical(logical_id: str, attribute: str | None) -> str:
    names = {"SourceExportRole": EXPORT}
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
    assert not [r["Type"] for r in source["Resources"].values() if not r["Type"].startswith(("AWS::IAM::", "AWS::Events::", "AWS::SQS::", "AWS::SNS::", "AWS::CloudWatch::"))]
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
    ("aurora-lake", True), ("a" * 30, True), ("a" * 31, False), ("1lake", False), ("lake_1", False), ("", False),
])
def test_the_lakes_stack_name_fits_the_role_names(source: dict[str, Any], value: str, valid: bool) -> None:
    assert bool(re.fullmatch(source["Parameters"]["LakeStackName"]["AllowedPattern"], value)) is valid


def test_one_parameter_set_for_every_account_nothing_names_a_database(source: dict[str, Any]) -> None:
    assert set(source["Parameters"]) == {"LakeAccountId", "LakeStackName", "LakeBucketName", "LakeKmsKeyArn", "LakeExportPrefix",
                                         "ForwardEvents", "AlarmNotificationEmail", "PermissionsBoundaryArn"}
    # Nothing resolved differs between two accounts but the account itself.
    a = json.dumps(_deployed_source(source))
    assert "orders" not in a and "cluster:orders" not in a


# --- the access role ---------------------------------------------------------------------------


def _role_policy(role: dict[str, Any]) -> Policy:
    return Policy.of([p["PolicyDocument"] for p in role["Properties"]["Policies"]])


@pytest.fixture(scope="module")
def access(source: dict[str, Any]) -> Policy:
    return _role_policy(_deployed_source(source)["SourceAccessRole"])


def _may(policy: Policy, action: str, arn: str, tags: dict[str, str] | None = None, request_tags: dict[str, str] | None = None) -> bool:
    """IAM's answer for the access role, with the resource's tags as RDS's condition keys and the request's tags."""
    kind = arn.split(":", 6)[5] if arn.count(":") >= 6 else ""
    key = {"cluster": "rds:cluster-tag", "db": "rds:db-tag", "cluster-snapshot": "rds:cluster-snapshot-tag", "snapshot": "rds:snapshot-tag"}.get(kind)
    context: dict[str, Any] = {"aws:RequestedRegion": "us-east-1"}
    for name, value in (tags or {}).items():
        if key:
            context[f"{key}/{name}"] = value
        context[f"aws:ResourceTag/{name}"] = value
    if request_tags:
        context |= {f"aws:RequestTag/{name}": value for name, value in request_tags.items()} | {"aws:TagKeys": tuple(request_tags)}
    return decide(Principal(arn=ACCESS), Request(action, arn, context), policy, ResourcePolicy([]), SOURCE_A)


OWN_TAGS = {"aurora-lake:export": "aurora-lake", "aurora-lake:taken-by": "aurora-lake", "aurora-lake:execution": "run-1"}


def test_only_the_lake_stacks_roles_may_assume_the_access_role(source: dict[str, Any]) -> None:
    role = _deployed_source(source)["SourceAccessRole"]["Properties"]
    assert role["RoleName"] == "aurora-lake-source-access-us-east-1"
    trust = ResourcePolicy.of(role["AssumeRolePolicyDocument"], trust=True)
    anything = Policy.of([{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}])

    def assume(arn: str, stack_tag: str | None) -> bool:
        who = Principal(arn=arn, tags=(("aurora-lake:stack", stack_tag),) if stack_tag else ())
        return decide(who, Request("sts:AssumeRole", ACCESS), anything, trust, SOURCE_A)

    assert assume(f"arn:aws:iam::{LAKE}:role/aurora-lake-StartExportRole-1A2B3C4D5E6F", "aurora-lake")
    assert not assume(f"arn:aws:iam::{LAKE}:role/aurora-lake-StartExportRole-1A2B3C4D5E6F", None)
    # A second lake whose name begins with this one's: its roles match the name pattern, not the tag.
    assert not assume(f"arn:aws:iam::{LAKE}:role/aurora-lake-prod-StartExportRole-1A2B3C4D5E6F", "aurora-lake-prod")
    assert not assume(f"arn:aws:iam::{LAKE}:role/admin", "aurora-lake")
    assert not assume("arn:aws:iam::333333333333:role/aurora-lake-StartExportRole-1A2B3C4D5E6F", "aurora-lake")


def test_the_access_role_snapshots_only_opted_in_sources_and_tags_the_snapshot_as_the_lakes(access: Policy) -> None:
    for action, source, snapshot in (("rds:CreateDBClusterSnapshot", f"{RDS}:cluster:orders", f"{RDS}:cluster-snapshot:orders-lake-0123456789ab"),
                                     ("rds:CreateDBSnapshot", f"{RDS}:db:orders-db", f"{RDS}:snapshot:orders-db-lake-0123456789ab")):
        assert _may(access, action, source, OPTED_IN, OWN_TAGS)
        assert _may(access, action, snapshot, None, OWN_TAGS)
        assert _may(access, "rds:AddTagsToResource", snapshot, None, OWN_TAGS)
        for tags in ({}, {"aurora-lake:export": "other-lake"}, {"aurora-lake:export": "Aurora-Lake"}, {"other": "aurora-lake"}):
            assert not _may(access, action, source, tags, OWN_TAGS), (action, tags)
        # The new snapshot must be named *-lake-* and tagged as this lake's, with no other tag key.
        assert not _may(access, action, snapshot, None, {"aurora-lake:export": "aurora-lake"})
        assert not _may(access, action, snapshot.replace("-lake-", "-copy-"), None, OWN_TAGS)
        assert not _may(access, "rds:AddTagsToResource", snapshot, None, {**OWN_TAGS, "owner": "me"})
        # Tagging anything else (a source, a user's snapshot): never.
        assert not _may(access, "rds:AddTagsToResource", source, OPTED_IN, OWN_TAGS)


def test_the_access_role_exports_only_what_carries_the_tag_itself(access: Policy) -> None:
    assert _may(access, "rds:StartExportTask", f"{RDS}:cluster:orders", OPTED_IN)
    assert _may(access, "rds:StartExportTask", f"{RDS}:cluster-snapshot:rds:orders-2026-11-01-03-10", OPTED_IN)
    assert _may(access, "rds:StartExportTask", f"{RDS}:snapshot:awsbackup:job-1", OPTED_IN)
    for arn in (f"{RDS}:cluster:secrets", f"{RDS}:cluster-snapshot:rds:secrets-2026-11-01-03-10", f"{RDS}:cluster-snapshot:awsbackup:job-2",
                f"{RDS}:snapshot:orders-db-manual", f"{RDS}:cluster-snapshot:orders-aurora-lake-0123456789ab"):
        assert not _may(access, "rds:StartExportTask", arn), arn
        assert not _may(access, "rds:StartExportTask", arn, {"aurora-lake:export": "other-lake"}), arn
    # Another Region's resources, even tagged: never.
    assert not _may(access, "rds:StartExportTask", f"arn:aws:rds:eu-west-1:{SOURCE_A}:cluster:orders", OPTED_IN)


@pytest.mark.parametrize(("arn", "tags"), [
    (f"{RDS}:cluster-snapshot:orders-aurora-before-migration", OPTED_IN),  # a user's snapshot, even tagged
    (f"{RDS}:cluster-snapshot:rds:orders-aurora-2026-11-01-03-10", OPTED_IN),  # automated
    (f"{RDS}:cluster-snapshot:awsbackup:job-3f6c2a1e", OPTED_IN),  # AWS Backup
    (f"{RDS}:cluster-snapshot:orders-lake-0123456789ab", {"aurora-lake:taken-by": "other-lake"}),  # another lake's
    (f"{RDS}:cluster-snapshot:orders-lake-0123456789ab", OPTED_IN),  # named like the lake's, not taken by it
    (f"{RDS}:snapshot:orders-db-user-copy", {"aurora-lake:taken-by": "aurora-lake"}),  # tagged, not named like the lake's
])
def test_the_access_role_deletes_only_the_snapshots_the_lake_took(access: Policy, arn: str, tags: dict[str, str]) -> None:
    action = "rds:DeleteDBClusterSnapshot" if ":cluster-snapshot:" in arn else "rds:DeleteDBSnapshot"
    assert not _may(access, action, arn, tags)
    own = f"{RDS}:cluster-snapshot:orders-lake-0123456789ab"
    assert _may(access, "rds:DeleteDBClusterSnapshot", own, {"aurora-lake:taken-by": "aurora-lake"})


def test_the_access_role_describes_the_accounts_sources_and_nothing_else(access: Policy) -> None:
    for action, arn in (("rds:DescribeDBClusters", f"{RDS}:cluster:*"), ("rds:DescribeDBInstances", f"{RDS}:db:*"),
                        ("rds:DescribeDBClusterSnapshots", f"{RDS}:cluster-snapshot:rds:x-1"), ("rds:DescribeDBSnapshots", f"{RDS}:snapshot:x-1"),
                        ("rds:DescribeExportTasks", "*")):
        assert _may(access, action, arn), action
    for action in ("rds:ModifyDBCluster", "rds:DeleteDBCluster", "rds:RestoreDBClusterFromSnapshot", "rds:CopyDBClusterSnapshot",
                   "rds:ModifyDBClusterSnapshotAttribute", "rds:RemoveTagsFromResource", "s3:GetObject", "kms:Decrypt"):
        assert not _may(access, action, f"{RDS}:cluster:orders", OPTED_IN), action


def test_the_access_role_passes_only_the_export_role_and_uses_only_the_lake_key(source: dict[str, Any]) -> None:
    statements = _statements(_deployed_source(source)["SourceAccessRole"])
    assert {r for a, r in _grants(statements) if a.startswith("iam:")} == {EXPORT}
    kms = {(a, r) for a, r in _grants(statements) if a.startswith("kms:")}
    assert kms == {("kms:DescribeKey", KEY), ("kms:CreateGrant", KEY)}
    [grant] = [s for s in statements if s["Action"] == "kms:CreateGrant"]
    assert grant["Condition"] == {"Bool": {"kms:GrantIsForAWSResource": "true"}}
    assert {a for a, r in _grants(statements) if r == "*"} == {"rds:DescribeExportTasks"}


# --- the export role ---------------------------------------------------------------------------


def test_the_export_role_writes_only_under_its_accounts_folder_of_the_lake_bucket(source: dict[str, Any]) -> None:
    role = _deployed_source(source)["SourceExportRole"]["Properties"]
    assert role["RoleName"] == "aurora-lake-source-export-us-east-1"
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {"Effect": "Allow", "Principal": {"Service": "export.rds.amazonaws.com"}, "Action": "sts:AssumeRole"}
    statements = _statements({"Properties": role})
    s3 = {(a, r) for a, r in _grants(statements) if a.startswith("s3:")}
    folder = f"arn:aws:s3:::lake-bucket/exports/accounts/{SOURCE_A}/*"
    # The whole bucket listed and located, as every public cross-account export grants it (FIDELITY.md).
    assert s3 == {("s3:GetBucketLocation", "arn:aws:s3:::lake-bucket"), ("s3:ListBucket", "arn:aws:s3:::lake-bucket"),
                  ("s3:PutObject*", folder), ("s3:GetObject*", folder), ("s3:DeleteObject*", folder)}
    assert not [s for s in statements if "Condition" in s]
    for other in ("exports/accounts/222222222222/e/x.parquet", "exports/orders-prod/e/x.parquet", "athena-results/q.csv"):
        for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"):
            assert not _allowed(statements, action, f"arn:aws:s3:::lake-bucket/{other}"), (action, other)
    assert {(a, r) for a, r in _grants(statements) if a.startswith("kms:")} == {
        (a, KEY) for a in ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey")}


def test_the_export_roles_folder_is_the_one_the_lake_bucket_opens_to_it(cfn: dict[str, Any], source: dict[str, Any]) -> None:
    from .test_organization import BUCKET, _allowed as lake_allows, _bucket, _export_role

    role = _statements(_deployed_source(source)["SourceExportRole"])
    folder = next(r for a, r in _grants(role) if a == "s3:PutObject*")
    written = folder.replace("*", "export-1/orders/public.orders/part-00000.parquet")
    assert written.startswith(BUCKET + "/") and lake_allows(_export_role(SOURCE_A), "s3:PutObject", written, _bucket(cfn))


def test_names_and_prefix_follow_the_lake_and_the_region(source: dict[str, Any]) -> None:
    deployed = _deployed_source(source, LakeStackName="finance-lake", LakeExportPrefix="raw/")
    assert deployed["SourceAccessRole"]["Properties"]["RoleName"] == "finance-lake-source-access-us-east-1"
    assert deployed["SourceExportRole"]["Properties"]["RoleName"] == "finance-lake-source-export-us-east-1"
    folder = {r for a, r in _grants(_statements(deployed["SourceExportRole"])) if a == "s3:PutObject*"}
    assert folder == {f"arn:aws:s3:::lake-bucket/raw/accounts/{SOURCE_A}/*"}
    # Another Region's stack instance names its roles apart (IAM is global to the account).
    resolver = Resolver(source, REQUIRED, physical=_physical, account=SOURCE_A, region="eu-west-1")
    assert resolver.resolve(source["Resources"]["SourceAccessRole"]["Properties"]["RoleName"]) == "aurora-lake-source-access-eu-west-1"


def test_the_longest_names_fit_iam(source: dict[str, Any]) -> None:
    resolver = Resolver(source, {**REQUIRED, "LakeStackName": "a" * 30}, physical=_physical, account=SOURCE_A, region="ap-southeast-5")
    for role in ("SourceAccessRole", "SourceExportRole"):
        assert len(resolver.resolve(source["Resources"][role]["Properties"]["RoleName"])) <= 64


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
    deployed = _deployed_source(source, ForwardEvents="false", AlarmNotificationEmail="ops@example.com")
    assert set(deployed) == {"SourceAccessRole", "SourceExportRole"}


def test_the_forwarding_dead_letter_queue_alarms_to_the_stacks_topic(source: dict[str, Any]) -> None:
    deployed = _deployed_source(source, AlarmNotificationEmail="platform@example.com")
    alarm = deployed["ForwardedEventsDeadLettersAlarm"]["Properties"]
    assert alarm["AlarmActions"] == ["<ForwardingAlarmTopic>"] and alarm["Namespace"] == "AWS/SQS"
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": "<ForwardedEventsDeadLetterQueue.QueueName>"}]
    assert alarm["Threshold"] == 1 and alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert deployed["ForwardingAlarmEmailSubscription"]["Properties"]["Endpoint"] == "platform@example.com"
    assert "ForwardingAlarmEmailSubscription" not in _deployed_source(source)
    policy = deployed["ForwardingAlarmTopicPolicy"]["Properties"]["PolicyDocument"]
    [publish] = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"} and publish["Condition"] == {"StringEquals": {"aws:SourceAccount": SOURCE_A}}


@pytest.mark.parametrize(("event", "lake_rule"), [
    (lambda: _snapshot_event(SOURCE_A, "RDS-EVENT-0169"), "SourceSnapshotCreatedRule"),
    (lambda: _snapshot_event(SOURCE_A, "RDS-EVENT-0075"), "SourceSnapshotCreatedRule"),
    (lambda: _export_event(SOURCE_A, "RDS-EVENT-0164"), "SourceExportFinishedRule"),
    (lambda: _export_event(SOURCE_A, "RDS-EVENT-0162"), "SourceExportFinishedRule"),
    (lambda: _export_event(SOURCE_A, "RDS-EVENT-0236"), "SourceExportFinishedRule"),
    (lambda: _backup_event(SOURCE_A), "SourceAwsBackupJobCompletedRule"),
    (lambda: _backup_event(SOURCE_A, "RDS"), "SourceAwsBackupJobCompletedRule"),
    (lambda: _db_snapshot_event(SOURCE_A, "RDS-EVENT-0091"), "SourceSnapshotCreatedRule"),
    (lambda: _db_snapshot_event(SOURCE_A, "RDS-EVENT-0042"), "SourceSnapshotCreatedRule"),
])
def test_what_a_source_forwards_the_lake_takes(cfn: dict[str, Any], source: dict[str, Any], event: Any, lake_rule: str) -> None:
    sample = event()
    forwarding = [r["Properties"] for r in _deployed_source(source).values() if r["Type"] == "AWS::Events::Rule"]
    assert [r for r in forwarding if EventPattern(None, r["EventPattern"]).matches_event(sample)], "the source must forward it"
    lake = _deployed(cfn, WITH_ORG)[lake_rule]["Properties"]
    assert EventPattern(None, lake["EventPattern"]).matches_event(sample)


def test_events_the_lake_has_no_use_for_stay_in_the_source(source: dict[str, Any]) -> None:
    forwarding = [EventPattern(None, r["Properties"]["EventPattern"]) for r in _deployed_source(source).values() if r["Type"] == "AWS::Events::Rule"]
    failed_backup = _backup_event(SOURCE_A)
    failed_backup["detail"]["state"] = "FAILED"
    other_resource = _backup_event(SOURCE_A, "EBS")
    received = _snapshot_event(SOURCE_A)
    received["account"] = "333333333333"  # an event another account sent to this bus
    for event in (failed_backup, other_resource, received, _snapshot_event(SOURCE_A, "RDS-EVENT-0076")):
        assert not any(p.matches_event(event) for p in forwarding), json.dumps(event)[:200]


def test_the_dead_letter_queue_takes_only_the_forwarding_rules_messages(source: dict[str, Any]) -> None:
    policy = _deployed_source(source)["ForwardedEventsDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]
    [allow] = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"} and allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": ["<ForwardRdsEventsRule.Arn>", "<ForwardAwsBackupEventsRule.Arn>"]}}


# --- size -----------------------------------------------------------------------------------------


def test_the_roles_fit_iam_limits_whatever_the_organizations_size(source: dict[str, Any]) -> None:
    from tests.security.test_iam_size import INLINE_POLICIES_PER_ROLE, PHYSICAL_PLACEHOLDER, _size

    # Nothing in the source template grows with accounts or databases: the longest values it takes.
    resolver = Resolver(source, {**REQUIRED, "LakeBucketName": "b" * 63, "LakeExportPrefix": "p" * 200 + "/", "LakeStackName": "s" * 30},
                        physical=lambda logical_id, attribute: PHYSICAL_PLACEHOLDER, region="us-gov-west-1")
    for name, resource in source["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role" and resolver.resource_exists(name):
            size = sum(_size(p["PolicyDocument"]) for p in resolver.resolve(resource["Properties"]["Policies"]))
            assert size <= INLINE_POLICIES_PER_ROLE, f"{name}: {size} characters"


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
    assert checked == {"SourceAccessRole", "SourceExportRole", "ForwardEventsRole", "ForwardedEventsDeadLetterQueuePolicy", "ForwardingAlarmTopicPolicy"}
