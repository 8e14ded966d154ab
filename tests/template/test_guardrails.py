"""Organization guardrails: a permissions boundary on every role, tags on every resource that takes them."""

from __future__ import annotations

from typing import Any

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from tools.cfn_resolve import Resolver

BOUNDARY = "arn:aws:iam::123456789012:policy/org/DeveloperBoundary"
EVERYTHING_ON = {
    "AllowedClusterIdentifiers": "orders-prod,billing",
    "EnableSchedule": "true",
    "ScheduleClusterIdentifier": "billing",
    "EnableSnapshotEventTrigger": "true",
    "EnableAwsBackupTrigger": "true",
}


def _taggable(kind: str) -> bool:
    """What CloudFormation's own resource schema says (cfn-lint ships the providers' schemas)."""
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", kind).schema
    return bool(schema.get("tagging", {}).get("taggable")) and "Tags" in schema["properties"]


def _created(cfn: dict[str, Any], resolver: Resolver) -> dict[str, dict[str, Any]]:
    return {
        name: resource
        for name, resource in cfn["Resources"].items()
        if "Condition" not in resource or resolver.condition(resource["Condition"])
    }


def _tags(resolved: dict[str, Any]) -> dict[str, str]:
    tags = resolved.get("Tags") or []
    return dict(tags) if isinstance(tags, dict) else {tag["Key"]: tag["Value"] for tag in tags}


def test_a_boundary_and_tags_reach_every_role_and_every_taggable_resource(cfn: dict[str, Any]) -> None:
    resolver = Resolver(cfn, {**EVERYTHING_ON, "PermissionsBoundaryArn": BOUNDARY, "OwnerTag": "team-data"}, stack_name="lake-a")
    created = _created(cfn, resolver)
    roles = {name for name, r in created.items() if r["Type"] == "AWS::IAM::Role"}
    assert len(roles) >= 15
    taggable = {name for name, r in created.items() if _taggable(r["Type"])}
    # Every kind this stack creates that CloudFormation can tag (functions and state machines after the transform).
    assert {"AWS::Lambda::Function", "AWS::StepFunctions::StateMachine", "AWS::KMS::Key", "AWS::S3::Bucket",
            "AWS::Logs::LogGroup", "AWS::SQS::Queue", "AWS::CloudWatch::Alarm", "AWS::Events::Rule"} <= {
        created[name]["Type"] for name in taggable}
    for name in roles:
        assert resolver.resolve(created[name]["Properties"]).get("PermissionsBoundary") == BOUNDARY, name
    for name in taggable:
        tags = _tags(resolver.resolve(created[name]["Properties"]))
        assert tags.get("aurora-lake:stack") == "lake-a" and tags.get("Owner") == "team-data", (name, tags)


def test_without_a_boundary_no_role_names_one(cfn: dict[str, Any]) -> None:
    resolver = Resolver(cfn, EVERYTHING_ON)
    for name, resource in _created(cfn, resolver).items():
        if resource["Type"] == "AWS::IAM::Role":
            assert "PermissionsBoundary" not in resolver.resolve(resource["Properties"]), name


@pytest.mark.parametrize(("value", "valid"), [
    ("", True), (BOUNDARY, True), ("arn:aws-us-gov:iam::123456789012:policy/Boundary", True),
    ("arn:aws:iam::aws:policy/PowerUserAccess", False), ("DeveloperBoundary", False),
])
def test_boundary_parameter_takes_a_customer_managed_policy_arn(sam: dict[str, Any], value: str, valid: bool) -> None:
    import re

    assert bool(re.fullmatch(sam["Parameters"]["PermissionsBoundaryArn"]["AllowedPattern"], value)) is valid


READER = "arn:aws:iam::123456789012:role/analysts"


def _lake_formation_grants(cfn: dict[str, Any], parameters: dict[str, str]) -> list[dict[str, Any]]:
    resolver = Resolver(cfn, parameters)
    return [resolver.resolve(r["Properties"]) for r in _created(cfn, resolver).values()
            if r["Type"] == "AWS::LakeFormation::PrincipalPermissions"]


def test_lake_formation_grants_only_when_asked_and_exactly_what_the_iam_policies_assume(cfn: dict[str, Any]) -> None:
    assert _lake_formation_grants(cfn, EVERYTHING_ON) == []
    grants = _lake_formation_grants(cfn, {**EVERYTHING_ON, "CreateLakeFormationGrants": "true", "LakeFormationReaderArn": READER})
    by_principal: dict[str, dict[str, set[str]]] = {}
    for grant in grants:
        (kind,) = grant["Resource"]
        target = grant["Resource"][kind]
        assert target["CatalogId"] == "123456789012"
        assert target.get("Name", target.get("DatabaseName")) == "<GlueDatabase>"
        if kind == "Table":
            assert target["TableWildcard"] == {}
        assert grant["PermissionsWithGrantOption"] == []
        by_principal.setdefault(grant["Principal"]["DataLakePrincipalIdentifier"], {})[kind] = set(grant["Permissions"])
    assert by_principal == {
        "<CreateAthenaTablesRole.Arn>": {"Database": {"DESCRIBE", "CREATE_TABLE"}, "Table": {"DESCRIBE", "ALTER", "DROP"}},
        READER: {"Database": {"DESCRIBE"}, "Table": {"SELECT", "DESCRIBE"}},
    }
    # Without a reader, only the function's grants.
    assert len(_lake_formation_grants(cfn, {**EVERYTHING_ON, "CreateLakeFormationGrants": "true"})) == 2


def test_an_existing_key_encrypts_every_log_group(cfn: dict[str, Any]) -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    resolver = Resolver(cfn, {**EVERYTHING_ON, "ExistingKmsKeyArn": key})
    groups = {name: r for name, r in _created(cfn, resolver).items() if r["Type"] == "AWS::Logs::LogGroup"}
    assert len(groups) >= 11
    for name, group in groups.items():
        assert resolver.resolve(group["Properties"]).get("KmsKeyId") == key, name
