"""The lake template with source accounts (SourceAccountIds): what it opens to them, and nothing else.

Read after the SAM transform, as CloudFormation deploys it. The source side (source-account.yaml)
is in test_source_account.py.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from tools.cfn_resolve import Resolver
from tools.sam_translate import REPO_ROOT

LAKE, SOURCE_A, SOURCE_B, THIRD = "123456789012", "111111111111", "222222222222", "333333333333"
SOURCES = f"{SOURCE_A},{SOURCE_B}"
BASE = {"AllowedClusterIdentifiers": "orders-prod", "EnableSnapshotEventTrigger": "true", "SnapshotEventTypes": "both",
        "EnableAwsBackupTrigger": "true"}
WITH_SOURCES = {**BASE, "SourceAccountIds": SOURCES, "SourceAccountClusters": f"{SOURCE_A}:orders-aurora,{SOURCE_B}:billing-aurora"}
EVENTS = REPO_ROOT / "events"
# Everything the template adds for source accounts: resources, and statements (by Sid) of resources
# that exist anyway.
SOURCE_RESOURCES = {"SourceAccountsEventBusPolicy", "SourceSnapshotCreatedRule", "SourceAwsBackupJobCompletedRule",
                    "SourceExportFinishedRule", "SourceExportFinishedRulePermission",
                    "SourceSnapshotCreatedRulePermission", "SourceAwsBackupJobCompletedRulePermission"}
SOURCE_SIDS = {"SourceAccountsExportWithKey", "SourceExportRolesWriteOwnFolder", "SourceExportRolesListOwnFolder",
               "SourceExportRolesLocateBucket", "AssumeSourceAccessRoles", "EventBridgeKeepsUndeliveredSourceExportEvents",
               "SourceSnapshotEventRuleDeadLetters", "SourceAwsBackupRuleDeadLetters"}
SOURCE_VARIABLES = {"SOURCE_ACCOUNT_IDS", "SOURCE_ACCOUNT_CLUSTERS", "SOURCE_ACCESS_ROLE_NAME", "SOURCE_EXPORT_ROLE_NAME"}
# The roles of the functions that call RDS, and the wake-up's.
RDS_CALLERS = {"CreateSnapshotRole", "CheckSnapshotRole", "StartExportRole", "CheckExportRole", "DeleteSnapshotRole", "WakeExportWaitRole"}


def _physical(logical_id: str, attribute: str | None) -> str:
    if logical_id == "ExportBucket":
        return "arn:aws:s3:::lake-bucket" if attribute == "Arn" else "lake-bucket"
    return f"<{logical_id}>" if attribute is None else f"<{logical_id}.{attribute}>"


def _deployed(cfn: dict[str, Any], parameters: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every resource the parameters create, resolved."""
    resolver = Resolver(cfn, parameters, physical=_physical)
    return {name: {**resource, "Properties": resolver.resolve(resource.get("Properties") or {})}
            for name, resource in cfn["Resources"].items() if resolver.resource_exists(name)}


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statement = document["Statement"]
    return statement if isinstance(statement, list) else [statement]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _without_sources(value: Any) -> Any:
    """``value`` with the source-account statements and environment variables taken out."""
    if isinstance(value, list):
        return [_without_sources(item) for item in value if not (isinstance(item, dict) and item.get("Sid") in SOURCE_SIDS)]
    if isinstance(value, dict):
        return {key: _without_sources(item) for key, item in value.items() if key not in SOURCE_VARIABLES}
    return value


# --- nothing changes without source accounts ----------------------------------------------


def test_without_source_accounts_the_stack_is_the_single_account_lake(cfn: dict[str, Any]) -> None:
    without = _deployed(cfn, BASE)
    assert not SOURCE_RESOURCES & set(without)
    assert SOURCE_SIDS.isdisjoint(re.findall(r"'Sid': '(\w+)'", str(without)))
    # No grant names another account, and no function may assume any role.
    assert SOURCE_A not in json.dumps(without)
    for name, resource in without.items():
        if resource["Type"] == "AWS::IAM::Role":
            assert not [s for s in _role_statements(resource) if "sts:AssumeRole" in _as_list(s["Action"])], name
    variables = without["StartExportFunction"]["Properties"]["Environment"]["Variables"]
    assert {name: variables[name] for name in SOURCE_VARIABLES} == {
        "SOURCE_ACCOUNT_IDS": "", "SOURCE_ACCOUNT_CLUSTERS": "",
        "SOURCE_ACCESS_ROLE_NAME": "aurora-lake-source-access", "SOURCE_EXPORT_ROLE_NAME": "aurora-lake-source-export"}


def test_source_accounts_add_only_their_resources_statements_and_settings(cfn: dict[str, Any]) -> None:
    without, with_sources = _deployed(cfn, BASE), _deployed(cfn, WITH_SOURCES)
    assert set(with_sources) - set(without) == SOURCE_RESOURCES and set(without) <= set(with_sources)
    for name in without:
        assert _without_sources(with_sources[name]) == _without_sources(without[name]), name
    # The source statements are really there (the comparison above ignores them).
    found = set(re.findall(r"'Sid': '(\w+)'", str(with_sources)))
    assert SOURCE_SIDS <= found, sorted(SOURCE_SIDS - found)


def test_every_function_gets_the_source_settings_as_given(cfn: dict[str, Any]) -> None:
    deployed = _deployed(cfn, {**WITH_SOURCES, "SourceAccessRoleName": "lake-access", "SourceExportRoleName": "lake-export"})
    functions = [r for r in deployed.values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == 12
    for function in functions:
        variables = function["Properties"]["Environment"]["Variables"]
        assert {name: variables[name] for name in SOURCE_VARIABLES} == {
            "SOURCE_ACCOUNT_IDS": SOURCES, "SOURCE_ACCOUNT_CLUSTERS": WITH_SOURCES["SourceAccountClusters"],
            "SOURCE_ACCESS_ROLE_NAME": "lake-access", "SOURCE_EXPORT_ROLE_NAME": "lake-export"}


# --- parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "valid"), [
    ("", True), (SOURCE_A, True), (SOURCES, True), (",".join([SOURCE_A] * 20), True), (",".join([SOURCE_A] * 21), False),
    ("11111111111", False), ("1111111111111", False), (f"{SOURCE_A}, {SOURCE_B}", False), (f"{SOURCE_A},", False),
    ("arn:aws:iam::111111111111:root", False), ("*", False),
])
def test_source_account_ids_are_twelve_digit_ids(sam: dict[str, Any], value: str, valid: bool) -> None:
    assert bool(re.fullmatch(sam["Parameters"]["SourceAccountIds"]["AllowedPattern"], value)) is valid


@pytest.mark.parametrize(("value", "valid"), [
    ("", True), (f"{SOURCE_A}:orders-aurora", True), (WITH_SOURCES["SourceAccountClusters"], True),
    (",".join([f"{SOURCE_A}:c{n}" for n in range(10)]), True), (",".join([f"{SOURCE_A}:c{n}" for n in range(11)]), False),
    ("orders-aurora", False), (f"{SOURCE_A}:1orders", False), (f"{SOURCE_A}:orders-", False), (f"{SOURCE_A}:*", False),
    ("11111111111:orders", False), (f"{SOURCE_A}:orders,{SOURCE_B}", False),
])
def test_source_account_clusters_are_account_colon_cluster_entries(sam: dict[str, Any], value: str, valid: bool) -> None:
    assert bool(re.fullmatch(sam["Parameters"]["SourceAccountClusters"]["AllowedPattern"], value)) is valid


def test_source_clusters_without_source_accounts_are_refused_at_deploy(sam: dict[str, Any]) -> None:
    rule = sam["Rules"]["SourceClustersNeedSourceAccounts"]
    assert rule["RuleCondition"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "SourceAccountClusters"}, ""]}]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "SourceAccountIds"}, ""]}]}


def test_role_name_defaults_are_the_source_templates(sam: dict[str, Any]) -> None:
    from tools.sam_translate import load_template

    source = load_template(REPO_ROOT / "source-account.yaml")
    for name in ("SourceAccessRoleName", "SourceExportRoleName"):
        assert sam["Parameters"][name]["Default"] == source["Parameters"][name]["Default"]
        assert sam["Parameters"][name]["AllowedPattern"] == source["Parameters"][name]["AllowedPattern"]
    assert sam["Parameters"]["ExportPrefix"]["Default"] == source["Parameters"]["LakeExportPrefix"]["Default"]
    assert sam["Parameters"]["ExportPrefix"]["AllowedPattern"] == source["Parameters"]["LakeExportPrefix"]["AllowedPattern"]


# --- bucket policy --------------------------------------------------------------------------


def _source_bucket_statements(cfn: dict[str, Any], parameters: dict[str, str] = WITH_SOURCES) -> list[dict[str, Any]]:
    policy = _deployed(cfn, parameters)["ExportBucketPolicy"]["Properties"]["PolicyDocument"]
    return [s for s in _statements(policy) if s["Effect"] == "Allow" and s["Principal"] != "*"]


def _allows(statements: list[dict[str, Any]], principal_arn: str, action: str, resource: str, prefix: str | None = None) -> bool:
    """Whether a source-account principal is allowed ``action``, evaluating the statements' conditions as IAM would."""
    account = principal_arn.split(":")[4]
    for statement in statements:
        if account not in _as_list(statement["Principal"]["AWS"]):
            continue
        if not any(fnmatch.fnmatchcase(action, pattern) for pattern in _as_list(statement["Action"])):
            continue
        resources = [r.replace("${aws:PrincipalAccount}", account) for r in _as_list(statement["Resource"])]
        if not any(fnmatch.fnmatchcase(resource, r) for r in resources):
            continue
        condition = statement.get("Condition", {})
        if not any(fnmatch.fnmatchcase(principal_arn, p) for p in _as_list(condition["ArnLike"]["aws:PrincipalArn"])):
            continue
        wanted = condition.get("StringLike", {}).get("s3:prefix")
        if wanted is not None and (prefix is None or not fnmatch.fnmatchcase(prefix, wanted.replace("${aws:PrincipalAccount}", account))):
            continue
        return True
    return False


EXPORT_ROLE_A = f"arn:aws:iam::{SOURCE_A}:role/aurora-lake-source-export"
ACCESS_ROLE_A = f"arn:aws:iam::{SOURCE_A}:role/aurora-lake-source-access"
BUCKET = "arn:aws:s3:::lake-bucket"


def test_a_source_export_role_writes_reads_and_deletes_only_its_own_folder(cfn: dict[str, Any]) -> None:
    statements = _source_bucket_statements(cfn)
    own = f"{BUCKET}/exports/accounts/{SOURCE_A}/export-orders-aurora-1/orders/public.orders/part-00000.parquet"
    for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:PutObjectTagging"):
        assert _allows(statements, EXPORT_ROLE_A, action, own), action
    # The attacks: another source's exports, the lake's own exports, the lake's other folders.
    for other in (f"{BUCKET}/exports/accounts/{SOURCE_B}/export-billing-1/x.parquet",
                  f"{BUCKET}/exports/orders-prod/export-1/x.parquet",
                  f"{BUCKET}/exports/accounts/{SOURCE_A}x/x.parquet",
                  f"{BUCKET}/athena-results/q.csv", f"{BUCKET}/export-waits/aurora-lake/task", f"{BUCKET}/athena-catalog/ledger"):
        for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"):
            assert not _allows(statements, EXPORT_ROLE_A, action, other), (action, other)


def test_a_source_export_role_lists_only_its_own_folder(cfn: dict[str, Any]) -> None:
    statements = _source_bucket_statements(cfn)
    assert _allows(statements, EXPORT_ROLE_A, "s3:ListBucket", BUCKET, prefix=f"exports/accounts/{SOURCE_A}/export-1/")
    assert _allows(statements, EXPORT_ROLE_A, "s3:GetBucketLocation", BUCKET)
    for prefix in (None, "", "exports/", f"exports/accounts/{SOURCE_B}/", "exports/accounts/", "athena-results/"):
        assert not _allows(statements, EXPORT_ROLE_A, "s3:ListBucket", BUCKET, prefix=prefix), prefix


def test_only_the_export_role_of_a_listed_account_reaches_the_bucket(cfn: dict[str, Any]) -> None:
    statements = _source_bucket_statements(cfn)
    own = f"{BUCKET}/exports/accounts/{SOURCE_A}/export-1/x.parquet"
    assert not _allows(statements, ACCESS_ROLE_A, "s3:PutObject", own)  # the access role never touches the data
    assert not _allows(statements, f"arn:aws:iam::{SOURCE_A}:role/admin", "s3:GetObject", own)
    third = f"arn:aws:iam::{THIRD}:role/aurora-lake-source-export"
    assert not _allows(statements, third, "s3:PutObject", f"{BUCKET}/exports/accounts/{THIRD}/export-1/x.parquet")
    for statement in statements:
        assert _as_list(statement["Principal"]["AWS"]) == [SOURCE_A, SOURCE_B], statement["Sid"]


def test_the_source_folder_follows_export_prefix_and_role_name(cfn: dict[str, Any]) -> None:
    statements = _source_bucket_statements(cfn, {**WITH_SOURCES, "ExportPrefix": "lake/raw/", "SourceExportRoleName": "rds-export"})
    role = f"arn:aws:iam::{SOURCE_A}:role/rds-export"
    assert _allows(statements, role, "s3:PutObject", f"{BUCKET}/lake/raw/accounts/{SOURCE_A}/e/x.parquet")
    assert not _allows(statements, role, "s3:PutObject", f"{BUCKET}/exports/accounts/{SOURCE_A}/e/x.parquet")
    assert not _allows(statements, EXPORT_ROLE_A, "s3:PutObject", f"{BUCKET}/lake/raw/accounts/{SOURCE_A}/e/x.parquet")


def test_the_bucket_owner_owns_every_object_a_source_writes(cfn: dict[str, Any]) -> None:
    bucket = _deployed(cfn, WITH_SOURCES)["ExportBucket"]["Properties"]
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert all(bucket["PublicAccessBlockConfiguration"].values())


# --- key policy ------------------------------------------------------------------------------


def test_the_key_lets_the_source_roles_use_it_with_the_documented_actions(cfn: dict[str, Any]) -> None:
    policy = _deployed(cfn, WITH_SOURCES)["ExportKey"]["Properties"]["KeyPolicy"]
    [statement] = [s for s in _statements(policy) if s.get("Sid") == "SourceAccountsExportWithKey"]
    assert statement["Effect"] == "Allow" and statement["Principal"] == {"AWS": [SOURCE_A, SOURCE_B]}
    assert set(statement["Action"]) == {"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                                        "kms:CreateGrant", "kms:DescribeKey", "kms:RetireGrant"}
    assert statement["Condition"] == {"ArnLike": {"aws:PrincipalArn": ["arn:aws:iam::*:role/aurora-lake-source-access",
                                                                       "arn:aws:iam::*:role/aurora-lake-source-export"]}}


# --- event bus and rules --------------------------------------------------------------------


def test_the_default_bus_takes_events_from_the_source_accounts_only(cfn: dict[str, Any]) -> None:
    policy = _deployed(cfn, WITH_SOURCES)["SourceAccountsEventBusPolicy"]["Properties"]
    assert policy["Statement"] == {"Effect": "Allow", "Principal": {"AWS": [SOURCE_A, SOURCE_B]}, "Action": "events:PutEvents",
                                   "Resource": f"arn:aws:events:us-east-1:{LAKE}:event-bus/default"}
    assert "EventBusName" not in policy  # the default bus
    # Unique per stack (the stack ID's UUID): a second lake in the account never replaces this statement.
    assert cfn["Resources"]["SourceAccountsEventBusPolicy"]["Properties"]["StatementId"] == {
        "Fn::Join": ["", ["aurora-lake-sources-", {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}]]}
    assert re.fullmatch(r"aurora-lake-sources-[0-9a-f-]{36}", policy["StatementId"]) and len(policy["StatementId"]) <= 64


def _event(name: str, account: str, **detail: str) -> dict[str, Any]:
    event = json.loads((EVENTS / name).read_text())
    text = json.dumps(event).replace(LAKE, account)
    event = json.loads(text)
    event["detail"].update(detail)
    return event


def _snapshot_event(account: str, event_id: str = "RDS-EVENT-0169") -> dict[str, Any]:
    return _event("rds-cluster-snapshot-created-event.json", account, EventID=event_id)


def _export_event(account: str, event_id: str = "RDS-EVENT-0164") -> dict[str, Any]:
    return _event("rds-cluster-snapshot-created-event.json", account, EventID=event_id, Message="Snapshot export task completed.")


def _backup_event(account: str) -> dict[str, Any]:
    return _event("aws-backup-job-completed-event.json", account)


def _matching_rules(deployed: dict[str, dict[str, Any]], event: dict[str, Any]) -> set[str]:
    return {name for name, resource in deployed.items() if resource["Type"] == "AWS::Events::Rule"
            and "EventPattern" in resource["Properties"] and EventPattern(None, resource["Properties"]["EventPattern"]).matches_event(event)}


@pytest.mark.parametrize(("event", "lake_rule", "source_rule"), [
    (_snapshot_event, "SnapshotCreatedRule", "SourceSnapshotCreatedRule"),
    (_export_event, "ExportFinishedRule", "SourceExportFinishedRule"),
    (_backup_event, "AwsBackupJobCompletedRule", "SourceAwsBackupJobCompletedRule"),
])
def test_each_event_reaches_exactly_one_rule_and_a_third_accounts_none(cfn: dict[str, Any], event: Any, lake_rule: str, source_rule: str) -> None:
    deployed = _deployed(cfn, WITH_SOURCES)
    assert _matching_rules(deployed, event(LAKE)) == {lake_rule}
    assert _matching_rules(deployed, event(SOURCE_A)) == {source_rule}
    assert _matching_rules(deployed, event(SOURCE_B)) == {source_rule}
    assert _matching_rules(deployed, event(THIRD)) == set()  # forged in (or forwarded from) an account not listed
    # Without source accounts, a forwarded event starts nothing.
    assert _matching_rules(_deployed(cfn, BASE), event(SOURCE_A)) == set()


def _router_input(event: dict[str, Any]) -> dict[str, Any]:
    """The export input the trigger router builds from an event the rule delivers as it is."""
    from aurora_lake import triggers

    return triggers.export_input(event, LAKE)


def test_a_source_snapshot_event_goes_to_the_router_which_names_the_events_account(cfn: dict[str, Any]) -> None:
    deployed = _deployed(cfn, WITH_SOURCES)
    [target] = deployed["SourceSnapshotCreatedRule"]["Properties"]["Targets"]
    assert target["Arn"] == "<RouteTriggerFunction.Arn>" and not {"Input", "InputPath", "InputTransformer", "RoleArn"} & set(target)
    assert target["DeadLetterConfig"] == {"Arn": "<TriggerDeadLetterQueue.Arn>"}
    assert deployed["SourceSnapshotCreatedRulePermission"]["Properties"] == {
        "Action": "lambda:InvokeFunction", "FunctionName": "<RouteTriggerFunction.Arn>", "Principal": "events.amazonaws.com",
        "SourceArn": "<SourceSnapshotCreatedRule.Arn>"}
    event = _snapshot_event(SOURCE_A)
    assert _router_input(event) == {"snapshot_arn": event["detail"]["SourceArn"], "trigger": "snapshot-event", "event_account": SOURCE_A}
    for kind, ids in (("manual", ["RDS-EVENT-0075"]), ("automated", ["RDS-EVENT-0169"])):
        pattern = _deployed(cfn, {**WITH_SOURCES, "SnapshotEventTypes": kind})["SourceSnapshotCreatedRule"]["Properties"]["EventPattern"]
        assert pattern["detail"]["EventID"] == ids


def test_a_source_aws_backup_job_goes_to_the_router_which_names_the_events_account(cfn: dict[str, Any]) -> None:
    deployed = _deployed(cfn, WITH_SOURCES)
    rule = deployed["SourceAwsBackupJobCompletedRule"]["Properties"]
    [target] = rule["Targets"]
    assert target["Arn"] == "<RouteTriggerFunction.Arn>" and not {"Input", "InputPath", "InputTransformer", "RoleArn"} & set(target)
    assert deployed["SourceAwsBackupJobCompletedRulePermission"]["Properties"]["SourceArn"] == "<SourceAwsBackupJobCompletedRule.Arn>"
    event = _backup_event(SOURCE_B)
    assert _router_input(event) == {"aws_backup_job": event["detail"], "trigger": "aws-backup", "event_account": SOURCE_B}
    # Clusters only: DB instances of source accounts are not exported.
    assert not EventPattern(None, rule["EventPattern"]).matches_event({**event, "detail": {**event["detail"], "resourceType": "RDS"}})


def test_a_source_export_event_wakes_the_function_as_it_is(cfn: dict[str, Any]) -> None:
    deployed = _deployed(cfn, WITH_SOURCES)
    [target] = deployed["SourceExportFinishedRule"]["Properties"]["Targets"]
    assert target["Arn"] == "<WakeExportWaitFunction.Arn>" and not {"Input", "InputPath", "InputTransformer"} & set(target)
    assert target["DeadLetterConfig"] == {"Arn": "<ExportEventsDeadLetterQueue.Arn>"}
    permission = deployed["SourceExportFinishedRulePermission"]["Properties"]
    assert permission == {"Action": "lambda:InvokeFunction", "FunctionName": "<WakeExportWaitFunction.Arn>",
                          "Principal": "events.amazonaws.com", "SourceArn": "<SourceExportFinishedRule.Arn>"}
    pattern = EventPattern(None, deployed["SourceExportFinishedRule"]["Properties"]["EventPattern"])
    for event_id in ("RDS-EVENT-0162", "RDS-EVENT-0163", "RDS-EVENT-0164", "RDS-EVENT-0234", "RDS-EVENT-0235", "RDS-EVENT-0236"):
        assert pattern.matches_event(_export_event(SOURCE_A, event_id)), event_id
    for event_id in ("RDS-EVENT-0169", "RDS-EVENT-0161"):  # a snapshot created; a DB snapshot export
        assert not pattern.matches_event(_export_event(SOURCE_A, event_id)), event_id


def test_undelivered_source_events_land_in_the_dead_letter_queues(cfn: dict[str, Any]) -> None:
    deployed = _deployed(cfn, WITH_SOURCES)
    for queue_policy, rule in (("TriggerDeadLetterQueuePolicy", "SourceSnapshotCreatedRule"),
                               ("TriggerDeadLetterQueuePolicy", "SourceAwsBackupJobCompletedRule"),
                               ("ExportEventsDeadLetterQueuePolicy", "SourceExportFinishedRule")):
        statements = _statements(deployed[queue_policy]["Properties"]["PolicyDocument"])
        assert any(s.get("Condition") == {"ArnEquals": {"aws:SourceArn": f"<{rule}.Arn>"}} and s["Action"] == "sqs:SendMessage"
                   for s in statements), (queue_policy, rule)


# --- the lake's roles -----------------------------------------------------------------------


def _role_statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in role["Properties"].get("Policies", []) for s in _statements(policy["PolicyDocument"])]


def test_only_the_rds_callers_may_assume_the_source_access_role_and_only_in_source_accounts(cfn: dict[str, Any]) -> None:
    deployed = _deployed(cfn, WITH_SOURCES)
    assuming = {}
    for name, resource in deployed.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for statement in _role_statements(resource):
            if any(fnmatch.fnmatchcase("sts:AssumeRole", a) for a in _as_list(statement["Action"])):
                assuming[name] = statement
    assert set(assuming) == RDS_CALLERS
    for statement in assuming.values():
        assert statement["Resource"] == "arn:aws:iam::*:role/aurora-lake-source-access"
        assert statement["Condition"] == {"StringEquals": {"aws:ResourceAccount": [SOURCE_A, SOURCE_B]}}


def test_no_lake_role_grants_rds_on_another_accounts_arns(cfn: dict[str, Any]) -> None:
    for name, resource in _deployed(cfn, WITH_SOURCES).items():
        if resource["Type"] not in ("AWS::IAM::Role", "AWS::IAM::ManagedPolicy"):
            continue
        statements = _role_statements(resource) if resource["Type"] == "AWS::IAM::Role" else _statements(resource["Properties"]["PolicyDocument"])
        for statement in statements:
            for arn in _as_list(statement["Resource"]):
                assert SOURCE_A not in arn and SOURCE_B not in arn, (name, statement.get("Sid"))
                if arn.startswith("arn:") and ":rds:" in arn:
                    # Join-and-split ARNs (any account, pinned to this Region), or this account's.
                    assert arn.startswith(("arn:*:rds:*:*:", f"arn:aws:rds:us-east-1:{LAKE}:")), (name, arn)
                    assert arn.startswith(f"arn:aws:rds:us-east-1:{LAKE}:") or statement["Condition"] == {
                        "StringEquals": {"aws:RequestedRegion": "us-east-1"}}, (name, arn)


# --- Lambda's limit on a function's environment ---------------------------------------------

# Lambda: all environment variables of a function together, at most 4 KB.
ENVIRONMENT_LIMIT = 4096


def test_every_functions_environment_fits_with_the_most_clusters_and_source_clusters(cfn: dict[str, Any], sam: dict[str, Any]) -> None:
    from tests.security.test_iam_size import PHYSICAL_PLACEHOLDER, _clusters, _most_clusters_accepted

    entries = _most_clusters_accepted(sam, "SourceAccountClusters")
    source_clusters = ",".join(f"{n:012d}:{cluster}" for n, cluster in enumerate(_clusters(entries, "s").split(",")))
    parameters = {"AllowedClusterIdentifiers": _clusters(_most_clusters_accepted(sam)),
                  "AllowedDBInstanceIdentifiers": _clusters(_most_clusters_accepted(sam, "AllowedDBInstanceIdentifiers"), "i"),
                  "SourceAccountIds": ",".join(f"{n:012d}" for n in range(_most_clusters_accepted(sam, "SourceAccountIds"))),
                  "SourceAccountClusters": source_clusters,
                  "SourceAccessRoleName": "a" * 64, "SourceExportRoleName": "e" * 64,
                  "ExistingExportBucketName": "b" * 63, "ExistingKmsKeyArn": "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/" + "1" * 36}
    for name, pattern_parameter in (("SourceAccountIds", "SourceAccountIds"), ("SourceAccountClusters", "SourceAccountClusters")):
        assert re.fullmatch(sam["Parameters"][pattern_parameter]["AllowedPattern"], parameters[name]), name
    resolver = Resolver(cfn, parameters, physical=lambda logical_id, attribute: PHYSICAL_PLACEHOLDER,
                        region="us-gov-west-1", stack_name="s" * 128)
    for name, resource in cfn["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        variables = resolver.resolve(resource["Properties"]["Environment"]["Variables"])
        size = sum(len(key.encode()) + len(str(value).encode()) for key, value in variables.items())
        assert size <= ENVIRONMENT_LIMIT, f"{name}: {size} bytes of environment"
