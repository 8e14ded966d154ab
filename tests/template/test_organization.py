"""The lake template with an organization (OrganizationId): what it opens, to whom, and nothing else.

Read after the SAM transform, as CloudFormation deploys it, and judged with the emulated account's
IAM evaluator (``emulated_account.iam_policy``), with the organization's condition keys as IAM sets
them. The source side (source-account.yaml) is in test_source_account.py.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from moto.events.models import EventPattern

from emulated_account.iam_policy import Policy, Principal, Request, ResourcePolicy, decide
from tests.scenarios.test_triggers import apply_input_transformer
from tools.cfn_resolve import Resolver
from tools.sam_translate import REPO_ROOT

LAKE, SOURCE_A, SOURCE_B, THIRD = "123456789012", "111111111111", "222222222222", "333333333333"
ORG, OTHER_ORG = "o-a1b2c3d4e5", "o-z9y8x7w6v5"
WORKLOADS, PRODUCTION, SANDBOX = "ou-ab12-11111111", "ou-ab12-22222222", "ou-ab12-33333333"
PATHS = {SOURCE_A: f"{ORG}/r-ab12/{WORKLOADS}/{PRODUCTION}/", SOURCE_B: f"{ORG}/r-ab12/{WORKLOADS}/", THIRD: f"{ORG}/r-ab12/{SANDBOX}/"}
BASE = {"AllowedClusterIdentifiers": "orders-prod", "EnableSnapshotEventTrigger": "true", "SnapshotEventTypes": "both",
        "EnableAwsBackupTrigger": "true"}
WITH_ORG = {**BASE, "OrganizationId": ORG}
WITH_OUS = {**WITH_ORG, "SourceOrganizationalUnitIds": WORKLOADS}
EVENTS = REPO_ROOT / "events"
# Everything the template adds for source accounts: resources, and statements (by Sid) of resources that exist anyway.
SOURCE_RESOURCES = {"SourceAccountsEventBusPolicy", "SourceSnapshotCreatedRule", "SourceAwsBackupJobCompletedRule",
                    "SourceExportFinishedRule", "SourceExportFinishedRulePermission"}
SOURCE_SIDS = {"SourceExportRolesUseKey", "SourceAccessRolesLetRdsCheckKey", "SourceAccessRolesLetRdsCreateGrants",
               "SourceExportRolesWriteOwnFolder", "SourceExportRolesListAndLocateBucket", "AssumeSourceAccessRoles",
               "EventBridgeKeepsUndeliveredSourceExportEvents", "SourceSnapshotEventRuleDeadLetters", "SourceAwsBackupRuleDeadLetters"}
# The roles of the functions that call RDS (ValidateInput checks the opt-in tag), and the wake-up's.
RDS_CALLERS = {"ValidateInputRole", "CreateSnapshotRole", "CheckSnapshotRole", "StartExportRole", "CheckExportRole", "DeleteSnapshotRole",
               "WakeExportWaitRole"}
BUCKET = "arn:aws:s3:::lake-bucket"
KEY = "<ExportKey.Arn>"


def _physical(logical_id: str, attribute: str | None) -> str:
    if logical_id == "ExportBucket":
        return BUCKET if attribute == "Arn" else "lake-bucket"
    return f"<{logical_id}>" if attribute is None else f"<{logical_id}.{attribute}>"


def _deployed(cfn: dict[str, Any], parameters: dict[str, str], stack_name: str = "aurora-lake") -> dict[str, dict[str, Any]]:
    """Every resource the parameters create, resolved."""
    resolver = Resolver(cfn, parameters, physical=_physical, stack_name=stack_name)
    return {name: {**resource, "Properties": resolver.resolve(resource.get("Properties") or {})}
            for name, resource in cfn["Resources"].items() if resolver.resource_exists(name)}


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statement = document["Statement"]
    return statement if isinstance(statement, list) else [statement]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _role_statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in role["Properties"].get("Policies", []) for s in _statements(policy["PolicyDocument"])]


def _member(account: str, role: str, org: str = ORG) -> Principal:
    path = PATHS.get(account, f"{org}/r-ab12/")
    return Principal(arn=f"arn:aws:iam::{account}:role/{role}", org_id=org, org_paths=(path.replace(ORG, org),))


def _export_role(account: str, lake: str = "aurora-lake", org: str = ORG) -> Principal:
    return _member(account, f"{lake}-source-export-us-east-1", org)


def _access_role(account: str, lake: str = "aurora-lake", org: str = ORG) -> Principal:
    return _member(account, f"{lake}-source-access-us-east-1", org)


ANYTHING = Policy.of([{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}])


def _bucket(cfn: dict[str, Any], parameters: dict[str, str] = WITH_ORG) -> ResourcePolicy:
    return ResourcePolicy.of(_deployed(cfn, parameters)["ExportBucketPolicy"]["Properties"]["PolicyDocument"])


def _key(cfn: dict[str, Any], parameters: dict[str, str] = WITH_ORG) -> ResourcePolicy:
    return ResourcePolicy.of(_deployed(cfn, parameters)["ExportKey"]["Properties"]["KeyPolicy"])


def _allowed(who: Principal, action: str, resource: str, policy: ResourcePolicy, context: dict[str, Any] | None = None) -> bool:
    """What the lake's resource policy lets a source principal do, its own identity policy allowing everything."""
    return decide(who, Request(action, resource, {"aws:SecureTransport": "true", **(context or {})}), ANYTHING, policy, LAKE)


# --- nothing changes without an organization ----------------------------------------------


def test_without_an_organization_the_stack_is_the_single_account_lake(cfn: dict[str, Any]) -> None:
    without = _deployed(cfn, BASE)
    assert not SOURCE_RESOURCES & set(without)
    assert SOURCE_SIDS.isdisjoint(re.findall(r"'Sid': '(\w+)'", str(without)))
    for name, resource in without.items():
        if resource["Type"] == "AWS::IAM::Role":
            assert not [s for s in _role_statements(resource) if "sts:AssumeRole" in _as_list(s["Action"])], name
    variables = without["StartExportFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["ORGANIZATION_ID"] == "" and not {v for v in variables if v.startswith("SOURCE_")}


def test_an_organization_adds_only_its_resources_statements_and_setting(cfn: dict[str, Any]) -> None:
    without, with_org = _deployed(cfn, BASE), _deployed(cfn, WITH_OUS)
    assert set(with_org) - set(without) == SOURCE_RESOURCES and set(without) <= set(with_org)

    def strip(value: Any) -> Any:
        if isinstance(value, list):
            return [strip(item) for item in value if not (isinstance(item, dict) and item.get("Sid") in SOURCE_SIDS)]
        if isinstance(value, dict):
            return {key: strip(item) for key, item in value.items() if key != "ORGANIZATION_ID"}
        return value

    for name in without:
        assert strip(with_org[name]) == strip(without[name]), name
    found = set(re.findall(r"'Sid': '(\w+)'", str(with_org)))
    assert SOURCE_SIDS <= found, sorted(SOURCE_SIDS - found)


def test_no_function_environment_lists_accounts_or_databases_of_the_organization(cfn: dict[str, Any]) -> None:
    functions = [r for r in _deployed(cfn, WITH_OUS).values() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == 9
    for function in functions:
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["ORGANIZATION_ID"] == ORG
        assert WORKLOADS not in json.dumps(variables) and SOURCE_A not in json.dumps(variables)


# --- parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "valid"), [
    ("", True), (ORG, True), ("o-" + "a" * 32, True), ("o-abc", False), ("O-A1B2C3D4E5", False), (SOURCE_A, False),
    (f"{ORG},{OTHER_ORG}", False), ("r-ab12", False),
])
def test_organization_id_is_an_organization_id(sam: dict[str, Any], value: str, valid: bool) -> None:
    assert bool(re.fullmatch(sam["Parameters"]["OrganizationId"]["AllowedPattern"], value)) is valid


@pytest.mark.parametrize(("value", "valid"), [
    ("", True), (WORKLOADS, True), (f"{WORKLOADS},{SANDBOX}", True), (",".join([WORKLOADS] * 4), True),
    (",".join([WORKLOADS] * 5), False), ("r-ab12", False), (f"{WORKLOADS}, {SANDBOX}", False), ("ou-ab12", False), (SOURCE_A, False),
])
def test_source_ous_are_ou_ids(sam: dict[str, Any], value: str, valid: bool) -> None:
    assert bool(re.fullmatch(sam["Parameters"]["SourceOrganizationalUnitIds"]["AllowedPattern"], value)) is valid


def test_the_removed_parameters_are_gone_and_ous_need_an_organization(sam: dict[str, Any]) -> None:
    assert not {"SourceAccountIds", "SourceAccountClusters", "SourceAccessRoleName", "SourceExportRoleName"} & set(sam["Parameters"])
    rule = sam["Rules"]["OrganizationalUnitsNeedAnOrganization"]
    assert rule["RuleCondition"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "SourceOrganizationalUnitIds"}, ""]}]}
    assert rule["Assertions"][0]["Assert"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "OrganizationId"}, ""]}]}
    assert sam["Parameters"]["ExportPrefix"]["Default"] == "exports/"


# --- bucket policy --------------------------------------------------------------------------


def test_a_source_export_role_writes_reads_and_deletes_only_its_own_folder(cfn: dict[str, Any]) -> None:
    bucket = _bucket(cfn)
    own = f"{BUCKET}/exports/accounts/{SOURCE_A}/export-orders-aurora-1/orders/public.orders/part-00000.parquet"
    for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:PutObjectTagging"):
        assert _allowed(_export_role(SOURCE_A), action, own, bucket), action
    # The attacks: another account's exports, the lake's own exports, the stack's own folders.
    for other in (f"{BUCKET}/exports/accounts/{SOURCE_B}/export-billing-1/x.parquet", f"{BUCKET}/exports/orders-prod/export-1/x.parquet",
                  f"{BUCKET}/exports/accounts/{SOURCE_A}x/x.parquet", f"{BUCKET}/athena-results/q.csv",
                  f"{BUCKET}/export-waits/aurora-lake/{SOURCE_B}/task", f"{BUCKET}/athena-catalog/{SOURCE_B}/ledger.json",
                  f"{BUCKET}/athena-plans/{SOURCE_B}/export-1/plan.json"):
        for action in ("s3:PutObject", "s3:GetObject", "s3:DeleteObject"):
            assert not _allowed(_export_role(SOURCE_A), action, other, bucket), (action, other)


def test_the_bucket_is_listed_whole_by_the_export_roles_only(cfn: dict[str, Any]) -> None:
    bucket = _bucket(cfn)
    for prefix in (None, "", f"exports/accounts/{SOURCE_A}", f"exports/accounts/{SOURCE_A}/export-1/"):
        context = {} if prefix is None else {"s3:prefix": prefix}
        assert _allowed(_export_role(SOURCE_A), "s3:ListBucket", BUCKET, bucket, context), prefix
    assert _allowed(_export_role(SOURCE_A), "s3:GetBucketLocation", BUCKET, bucket)
    assert not _allowed(_access_role(SOURCE_A), "s3:ListBucket", BUCKET, bucket)
    assert not _allowed(_member(SOURCE_A, "admin"), "s3:ListBucket", BUCKET, bucket)


@pytest.mark.parametrize("who", [
    pytest.param(Principal(arn=f"arn:aws:iam::{THIRD}:role/aurora-lake-source-export-us-east-1"), id="outside-any-organization"),
    pytest.param(_export_role(THIRD, org=OTHER_ORG), id="in-another-organization"),
    pytest.param(_member(SOURCE_A, "admin"), id="another-role-of-a-member"),
    pytest.param(_export_role(SOURCE_A, lake="aurora-lake-prod"), id="another-lakes-export-role"),
    pytest.param(_member(SOURCE_A, "aurora-lake-source-export-eu-west-1"), id="the-export-role-of-another-region"),
])
def test_only_this_lakes_export_roles_of_the_organization_reach_the_bucket_and_key(cfn: dict[str, Any], who: Principal) -> None:
    own = f"{BUCKET}/exports/accounts/{who.account}/export-1/x.parquet"
    assert not _allowed(who, "s3:PutObject", own, _bucket(cfn))
    assert not _allowed(who, "kms:GenerateDataKey", KEY, _key(cfn))


def test_with_ous_only_their_accounts_reach_the_bucket(cfn: dict[str, Any]) -> None:
    bucket = _bucket(cfn, WITH_OUS)
    assert _allowed(_export_role(SOURCE_A), "s3:PutObject", f"{BUCKET}/exports/accounts/{SOURCE_A}/e/x", bucket)  # nested OU
    assert _allowed(_export_role(SOURCE_B), "s3:PutObject", f"{BUCKET}/exports/accounts/{SOURCE_B}/e/x", bucket)
    assert not _allowed(_export_role(THIRD), "s3:PutObject", f"{BUCKET}/exports/accounts/{THIRD}/e/x", bucket)  # Sandbox
    assert not _allowed(_export_role(THIRD), "kms:GenerateDataKey", KEY, _key(cfn, WITH_OUS))


def test_the_source_folder_follows_export_prefix_and_stack_name(cfn: dict[str, Any]) -> None:
    deployed = _deployed(cfn, {**WITH_ORG, "ExportPrefix": "lake/raw/"}, stack_name="finance-lake")
    bucket = ResourcePolicy.of(deployed["ExportBucketPolicy"]["Properties"]["PolicyDocument"])
    role = _export_role(SOURCE_A, lake="finance-lake")
    assert _allowed(role, "s3:PutObject", f"{BUCKET}/lake/raw/accounts/{SOURCE_A}/e/x.parquet", bucket)
    assert not _allowed(role, "s3:PutObject", f"{BUCKET}/exports/accounts/{SOURCE_A}/e/x.parquet", bucket)
    assert not _allowed(_export_role(SOURCE_A), "s3:PutObject", f"{BUCKET}/lake/raw/accounts/{SOURCE_A}/e/x.parquet", bucket)


def test_the_bucket_owner_owns_every_object_a_source_writes_and_public_access_stays_blocked(cfn: dict[str, Any]) -> None:
    bucket = _deployed(cfn, WITH_ORG)["ExportBucket"]["Properties"]
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    # Not "public" for Block Public Access: every statement open to "*" pins a fixed organization.
    for statement in _statements(_deployed(cfn, WITH_OUS)["ExportBucketPolicy"]["Properties"]["PolicyDocument"]):
        if statement["Effect"] == "Allow":
            assert statement["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == ORG, statement["Sid"]


# --- key policy ------------------------------------------------------------------------------


def test_the_key_gives_each_source_role_only_its_own_actions(cfn: dict[str, Any]) -> None:
    key = _key(cfn)
    for action in ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:DescribeKey"):
        assert _allowed(_export_role(SOURCE_A), action, KEY, key), action
    assert _allowed(_access_role(SOURCE_A), "kms:DescribeKey", KEY, key)
    assert _allowed(_access_role(SOURCE_A), "kms:CreateGrant", KEY, key, {"kms:GrantIsForAWSResource": "true"})
    for action in ("kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"):
        assert not _allowed(_access_role(SOURCE_A), action, KEY, key), action
    for action in ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:RetireGrant", "kms:RevokeGrant"):
        assert not _allowed(_export_role(SOURCE_A), action, KEY, key), action


@pytest.mark.parametrize("parameters", [BASE, WITH_ORG, WITH_OUS])
def test_no_one_creates_a_grant_on_the_key_that_is_not_for_an_aws_service(cfn: dict[str, Any], parameters: dict[str, str]) -> None:
    key = _key(cfn, parameters)
    # A source account's roles handing the key to a third party: refused, with or without a grant condition.
    for who in (_access_role(SOURCE_A), _export_role(SOURCE_A), _member(SOURCE_A, "admin")):
        assert not _allowed(who, "kms:CreateGrant", KEY, key, {"kms:GrantIsForAWSResource": "false"}), who.arn
        assert not _allowed(who, "kms:CreateGrant", KEY, key), who.arn
    # Even the lake account's own administrators (the Deny wins over the account's kms:*).
    admin = Principal(arn=f"arn:aws:iam::{LAKE}:role/admin")
    assert not decide(admin, Request("kms:CreateGrant", KEY, {"kms:GrantIsForAWSResource": "false"}), ANYTHING, key, LAKE)
    assert decide(admin, Request("kms:CreateGrant", KEY, {"kms:GrantIsForAWSResource": "true"}), ANYTHING, key, LAKE)


def test_the_key_policy_has_control_towers_ct_kms_pr_3_statement(cfn: dict[str, Any]) -> None:
    # The shape the control's cfn-guard rule requires (FIDELITY.md): a Deny of CreateGrant for
    # everyone when the grant is neither for nor made by an AWS service.
    for parameters in (BASE, WITH_ORG):
        policy = _deployed(cfn, parameters)["ExportKey"]["Properties"]["KeyPolicy"]
        assert {"Sid": "DenyGrantsNotForAwsServices", "Effect": "Deny", "Principal": "*", "Action": "kms:CreateGrant", "Resource": "*",
                "Condition": {"BoolIfExists": {"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"}}} in _statements(policy)


# --- event bus and rules --------------------------------------------------------------------


def test_the_default_bus_takes_events_from_the_organization_only(cfn: dict[str, Any]) -> None:
    properties = _deployed(cfn, WITH_OUS)["SourceAccountsEventBusPolicy"]["Properties"]
    assert "EventBusName" not in properties and re.fullmatch(r"aurora-lake-sources-[0-9a-f-]{36}", properties["StatementId"])
    policy = ResourcePolicy.of({"Statement": [properties["Statement"]]})
    put = lambda who: decide(who, Request("events:PutEvents", f"arn:aws:events:us-east-1:{LAKE}:event-bus/default"), ANYTHING, policy, LAKE)  # noqa: E731
    assert put(_member(SOURCE_A, "forwarder")) and put(_member(SOURCE_B, "forwarder"))
    assert not put(_member(THIRD, "forwarder"))  # the Sandbox OU
    assert not put(Principal(arn=f"arn:aws:iam::{THIRD}:role/forwarder"))  # outside the organization


def _event(name: str, account: str, **detail: str) -> dict[str, Any]:
    event = json.loads(json.dumps(json.loads((EVENTS / name).read_text())).replace(LAKE, account))
    event["detail"].update(detail)
    return event


def _snapshot_event(account: str, event_id: str = "RDS-EVENT-0169") -> dict[str, Any]:
    return _event("rds-cluster-snapshot-created-event.json", account, EventID=event_id)


def _db_snapshot_event(account: str, event_id: str = "RDS-EVENT-0091") -> dict[str, Any]:
    event = _snapshot_event(account, event_id)
    event["detail-type"] = "RDS DB Snapshot Event"
    event["detail"]["SourceArn"] = event["detail"]["SourceArn"].replace(":cluster-snapshot:", ":snapshot:")
    return event


def _export_event(account: str, event_id: str = "RDS-EVENT-0164") -> dict[str, Any]:
    return _event("rds-cluster-snapshot-created-event.json", account, EventID=event_id, Message="Snapshot export task completed.")


def _backup_event(account: str, resource_type: str = "Aurora") -> dict[str, Any]:
    event = _event("aws-backup-job-completed-event.json", account)
    event["detail"]["resourceType"] = resource_type
    return event


def _matching_rules(deployed: dict[str, dict[str, Any]], event: dict[str, Any]) -> set[str]:
    return {name for name, resource in deployed.items() if resource["Type"] == "AWS::Events::Rule"
            and "EventPattern" in resource["Properties"] and EventPattern(None, resource["Properties"]["EventPattern"]).matches_event(event)}


@pytest.mark.parametrize(("event", "lake_rule", "source_rule"), [
    (_snapshot_event, "SnapshotCreatedRule", "SourceSnapshotCreatedRule"),
    (_export_event, "ExportFinishedRule", "SourceExportFinishedRule"),
    (_backup_event, "AwsBackupJobCompletedRule", "SourceAwsBackupJobCompletedRule"),
])
def test_each_event_reaches_exactly_one_rule(cfn: dict[str, Any], event: Any, lake_rule: str, source_rule: str) -> None:
    deployed = _deployed(cfn, WITH_ORG)
    assert _matching_rules(deployed, event(LAKE)) == {lake_rule}
    for account in (SOURCE_A, SOURCE_B, THIRD):  # the bus policy decides who may send; the rules take any other account
        assert _matching_rules(deployed, event(account)) == {source_rule}
    assert _matching_rules(_deployed(cfn, BASE), event(SOURCE_A)) == set()


def test_db_instance_events_of_source_accounts_start_exports_too(cfn: dict[str, Any]) -> None:
    deployed = _deployed(cfn, WITH_ORG)
    assert _matching_rules(deployed, _db_snapshot_event(SOURCE_A)) == {"SourceSnapshotCreatedRule"}
    assert _matching_rules(deployed, _backup_event(SOURCE_A, "RDS")) == {"SourceAwsBackupJobCompletedRule"}
    assert _matching_rules(deployed, _export_event(SOURCE_A, "RDS-EVENT-0161") | {"detail-type": "RDS DB Snapshot Event"}) == {"SourceExportFinishedRule"}
    for kind, ids in (("manual", ["RDS-EVENT-0075", "RDS-EVENT-0042"]), ("automated", ["RDS-EVENT-0169", "RDS-EVENT-0091"])):
        pattern = _deployed(cfn, {**WITH_ORG, "SnapshotEventTypes": kind})["SourceSnapshotCreatedRule"]["Properties"]["EventPattern"]
        assert pattern["detail"]["EventID"] == ids


def test_a_source_snapshot_event_starts_the_export_naming_the_events_account(cfn: dict[str, Any]) -> None:
    [target] = _deployed(cfn, WITH_ORG)["SourceSnapshotCreatedRule"]["Properties"]["Targets"]
    assert target["Arn"] == "<ExportStateMachine>" and target["DeadLetterConfig"] == {"Arn": "<TriggerDeadLetterQueue.Arn>"}
    event = _snapshot_event(SOURCE_A)
    assert json.loads(apply_input_transformer(target["InputTransformer"], event)) == {
        "snapshot_arn": event["detail"]["SourceArn"], "trigger": "snapshot-event", "event_account": SOURCE_A}


# --- the lake's roles -----------------------------------------------------------------------


def _assuming(deployed: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {}
    for name, resource in deployed.items():
        if resource["Type"] == "AWS::IAM::Role":
            for statement in _role_statements(resource):
                if "sts:AssumeRole" in _as_list(statement["Action"]):
                    found[name] = statement
    return found


def test_only_the_rds_callers_may_assume_the_access_role_and_only_in_the_organization(cfn: dict[str, Any]) -> None:
    for parameters in (WITH_ORG, WITH_OUS):
        assuming = _assuming(_deployed(cfn, parameters))
        assert set(assuming) == RDS_CALLERS
        policy = Policy.of([{"Statement": [statement]} for statement in assuming.values()][:1])
        role = f"arn:aws:iam::{SOURCE_A}:role/aurora-lake-source-access-us-east-1"

        def may(account: str, org: str = ORG, role_name: str = "aurora-lake-source-access-us-east-1") -> bool:
            context: dict[str, Any] = {"aws:ResourceAccount": account}
            if org:
                context |= {"aws:ResourceOrgID": org, "aws:ResourceOrgPaths": (PATHS.get(account, f"{org}/r-ab12/").replace(ORG, org),)}
            return policy.allows(Request("sts:AssumeRole", f"arn:aws:iam::{account}:role/{role_name}", context))

        assert may(SOURCE_A) and may(SOURCE_B)
        assert not may(SOURCE_A, org="") and not may(SOURCE_A, org=OTHER_ORG)
        assert not may(SOURCE_A, role_name="admin") and not may(SOURCE_A, role_name="aurora-lake-source-access-eu-west-1")
        assert may(THIRD) is (parameters is WITH_ORG)  # Sandbox: only when the whole organization is trusted
        assert role.endswith("-us-east-1")


def test_no_lake_role_grants_rds_on_another_accounts_arns(cfn: dict[str, Any]) -> None:
    for name, resource in _deployed(cfn, WITH_OUS).items():
        if resource["Type"] not in ("AWS::IAM::Role", "AWS::IAM::ManagedPolicy"):
            continue
        statements = _role_statements(resource) if resource["Type"] == "AWS::IAM::Role" else _statements(resource["Properties"]["PolicyDocument"])
        for statement in statements:
            for arn in _as_list(statement["Resource"]):
                if arn.startswith("arn:") and ":rds:" in arn:
                    assert arn.startswith(("arn:*:rds:*:*:", f"arn:aws:rds:us-east-1:{LAKE}:")), (name, arn)


# --- Lambda's limit on a function's environment ---------------------------------------------

# Lambda: all environment variables of a function together, at most 4 KB.
ENVIRONMENT_LIMIT = 4096


def test_every_functions_environment_fits_with_the_most_clusters_and_an_organization(cfn: dict[str, Any], sam: dict[str, Any]) -> None:
    from tests.security.test_iam_size import PHYSICAL_PLACEHOLDER, _clusters, _most_clusters_accepted

    parameters = {"AllowedClusterIdentifiers": _clusters(_most_clusters_accepted(sam)),
                  "AllowedDBInstanceIdentifiers": _clusters(_most_clusters_accepted(sam, "AllowedDBInstanceIdentifiers"), "i"),
                  "OrganizationId": "o-" + "a" * 32,
                  "SourceOrganizationalUnitIds": ",".join(f"ou-{'a' * 32}-{n:032d}" for n in range(4)),
                  "ExistingExportBucketName": "b" * 63, "ExistingKmsKeyArn": "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/" + "1" * 36}
    resolver = Resolver(cfn, parameters, physical=lambda logical_id, attribute: PHYSICAL_PLACEHOLDER, region="us-gov-west-1", stack_name="s" * 30)
    for name, resource in cfn["Resources"].items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        variables = resolver.resolve(resource["Properties"]["Environment"]["Variables"])
        size = sum(len(key.encode()) + len(str(value).encode()) for key, value in variables.items())
        assert size <= ENVIRONMENT_LIMIT, f"{name}: {size} bytes of environment"
