"""What the deploying role needs is listed, and a resource type added without its permissions fails here.

``docs/deploying-role-policy.json`` must be exactly what ``tools.deploy_permissions`` derives from
the template as CloudFormation receives it: SAM CLI's calls, and the actions the registry schema of
each resource type lists for its create, read, update and delete handlers.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tools import deploy_permissions, iam_reference
from tools.sam_translate import REPO_ROOT, translate

IAM_INLINE_POLICIES_LIMIT = 10_240  # characters of all inline policies of a role (IAM quotas)


@pytest.fixture(scope="module")
def documented() -> dict[str, Any]:
    return json.loads(deploy_permissions.POLICY_PATH.read_text())


@pytest.fixture(scope="module")
def derived() -> dict[str, Any]:
    return deploy_permissions.policy()


def test_the_documented_policy_is_the_one_the_template_needs(documented: dict[str, Any], derived: dict[str, Any]) -> None:
    assert deploy_permissions.POLICY_PATH.read_text() == deploy_permissions.render(derived), (
        "the template's resource types changed: run `python -m tools.deploy_permissions > docs/deploying-role-policy.json`")
    assert documented == derived


def test_every_resource_type_of_the_template_is_covered_by_its_handlers_actions(documented: dict[str, Any]) -> None:
    granted = {action for statement in documented["Statement"] for action in statement["Action"]}
    cfn = translate(REPO_ROOT / "template.yaml")
    types = deploy_permissions.resource_types(cfn)
    assert {"AWS::Lambda::Function", "AWS::IAM::Role", "AWS::StepFunctions::StateMachine", "AWS::KMS::Key"} <= set(types)
    for resource_type in (*types, *deploy_permissions.SAM_MANAGED_STACK_TYPES):
        actions, _ = deploy_permissions.resource_actions([resource_type])
        assert actions and set(actions) <= granted, resource_type
    # Creating a function and a state machine passes their roles: the handlers say so.
    assert {"iam:PassRole", "lambda:CreateFunction", "states:CreateStateMachine", "kms:CreateKey", "iam:CreateRole"} <= granted
    assert all(statement["Effect"] == "Allow" and statement["Resource"] == "*" for statement in documented["Statement"])


def test_a_new_resource_type_without_its_permissions_fails(tmp_path: Path) -> None:
    """A table added to the template: the derived policy grows, so the documented one no longer matches."""
    text = (REPO_ROOT / "template.yaml").read_text()
    added = text.replace("\nResources:\n", "\nResources:\n  Ledger:\n    Type: AWS::DynamoDB::Table\n    Properties:\n"
                         "      BillingMode: PAY_PER_REQUEST\n      KeySchema: [{AttributeName: id, KeyType: HASH}]\n"
                         "      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]\n", 1)
    (tmp_path / "template.yaml").write_text(added)
    shutil.copytree(REPO_ROOT / "statemachine", tmp_path / "statemachine")
    grown = deploy_permissions.policy(tmp_path / "template.yaml")
    assert "dynamodb:CreateTable" in grown["Statement"][1]["Action"]
    assert deploy_permissions.render(grown) != deploy_permissions.POLICY_PATH.read_text()
    with pytest.raises(deploy_permissions.UnknownResourceType, match="Custom::Cleanup"):
        deploy_permissions.resource_actions(["Custom::Cleanup"])


def test_sam_clis_own_actions_exist_and_schema_words_that_are_no_action_are_left_out(documented: dict[str, Any]) -> None:
    unknown = [action for action in deploy_permissions.SAM_CLI_ACTIONS if not iam_reference.expand(action)]
    assert unknown == []
    granted = {action for statement in documented["Statement"] for action in statement["Action"]}
    cfn = translate(REPO_ROOT / "template.yaml")
    _, others = deploy_permissions.resource_actions(deploy_permissions.resource_types(cfn))
    assert others and not set(others) & granted  # e.g. "s3:REST.PUT.OBJECT" in the log group schema


def test_the_policy_fits_the_deploying_roles_inline_policies(documented: dict[str, Any]) -> None:
    assert deploy_permissions.policy_size(documented) <= IAM_INLINE_POLICIES_LIMIT
