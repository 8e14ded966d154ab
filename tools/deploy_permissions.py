"""What the principal that runs ``sam deploy`` (and ``sam delete``) needs: every IAM action, from the template.

CloudFormation creates, reads, updates and deletes each resource of the stack with the deploying
principal's own credentials (no CloudFormation service role is given). The actions each resource
type's handlers call are declared in its CloudFormation registry schema
(``handlers.{create,read,update,delete}.permissions``); cfn-lint ships those schemas, so this module
reads them offline. SAM CLI adds its own calls: the stack's change sets through the
``AWS::Serverless-2016-10-31`` transform, and its managed artifact stack (``aws-sam-cli-managed-default``:
an S3 bucket and its policy) and the uploads into that bucket.

The policy is one document of two statements: SAM CLI's and CloudFormation's own calls, and the
resource handlers' actions, every one on ``*`` (the handlers name resources CloudFormation has
not created yet). ``docs/deploying-role-policy.json`` is its output, and a test keeps the two equal,
so a resource type added to the template without its permissions fails.

    python -m tools.deploy_permissions [template.yaml] > docs/deploying-role-policy.json
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from tools.sam_translate import REPO_ROOT, TEMPLATE_PATH, translate

POLICY_PATH = REPO_ROOT / "docs" / "deploying-role-policy.json"
HANDLERS = ("create", "read", "update", "delete")
# Resource types of the stack SAM CLI creates to hold its artifact bucket (``resolve_s3``):
# samcli/lib/bootstrap/bootstrap.py, ``_get_stack_template`` (SAM CLI 1.170.0).
SAM_MANAGED_STACK_TYPES = ("AWS::S3::Bucket", "AWS::S3::BucketPolicy")
# SAM CLI 1.170.0's own calls for `sam deploy` and `sam delete`: samcli/lib/deploy/deployer.py (change
# sets, stack events, template summary), samcli/lib/utils/managed_cloudformation_stack.py (its managed
# stack), samcli/lib/package/s3_uploader.py (uploads, HeadObject, deletes), samcli/lib/delete/cfn_utils.py
# (GetTemplate, ListChangeSets, DeleteStack). A change set of a template with the AWS::Serverless
# transform is authorized on the transform too (CloudFormation User Guide, "Controlling access with
# AWS Identity and Access Management": arn:aws:cloudformation:REGION:aws:transform/Serverless-2016-10-31).
SAM_CLI_ACTIONS = (
    "cloudformation:CreateChangeSet",
    "cloudformation:DeleteStack",
    "cloudformation:DescribeChangeSet",
    "cloudformation:DescribeStackEvents",
    "cloudformation:DescribeStacks",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:GetTemplate",
    "cloudformation:GetTemplateSummary",
    "cloudformation:ListChangeSets",
    "cloudformation:UpdateStack",
    "s3:DeleteObject",
    "s3:GetObject",
    "s3:GetObjectTagging",
    "s3:ListBucket",
    "s3:PutObject",
)
# service:Action, as IAM spells an action (some schemas list other words, e.g. "s3:REST.PUT.OBJECT").
_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")


class UnknownResourceType(LookupError):
    """A resource type no CloudFormation registry schema describes: its permissions cannot be derived."""


@cache
def _schemas() -> tuple[Path, dict[str, str]]:
    import cfnlint

    base = Path(cfnlint.__file__).resolve().parent / "data" / "schemas"
    return base, json.loads((base / "providers" / "us-east-1.json").read_text())


def handler_permissions(resource_type: str) -> tuple[str, ...]:
    """Every action the registry schema of ``resource_type`` lists for its create, read, update and delete handlers."""
    base, providers = _schemas()
    if resource_type not in providers:
        raise UnknownResourceType(f"{resource_type} has no CloudFormation registry schema in cfn-lint's data: list its permissions by hand")
    schema = json.loads((base / "resources" / f"{providers[resource_type]}.json").read_text())
    handlers = schema.get("handlers") or {}
    return tuple(sorted({action for name in HANDLERS for action in (handlers.get(name) or {}).get("permissions", [])}))


def resource_types(template: Mapping[str, Any]) -> tuple[str, ...]:
    """Every resource type of a template as CloudFormation receives it (after the SAM transform), conditions aside."""
    return tuple(sorted({resource["Type"] for resource in template.get("Resources", {}).values()}))


def resource_actions(types: Iterable[str]) -> tuple[list[str], list[str]]:
    """(the IAM actions the handlers of ``types`` call, the schema entries that are no IAM action)."""
    actions: set[str] = set()
    others: set[str] = set()
    for resource_type in types:
        for action in handler_permissions(resource_type):
            (actions if _ACTION.match(action) else others).add(action)
    return sorted(actions), sorted(others)


def policy(template_path: str | Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The identity policy of the principal that deploys and deletes the stack of ``template_path``."""
    types = resource_types(translate(template_path))
    actions, _ = resource_actions({*types, *SAM_MANAGED_STACK_TYPES})
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "SamCliAndCloudFormation", "Effect": "Allow", "Action": list(SAM_CLI_ACTIONS), "Resource": "*"},
            {"Sid": "StackResources", "Effect": "Allow", "Action": actions, "Resource": "*"},
        ],
    }


def render(document: Mapping[str, Any]) -> str:
    """The file's text: one action a line, so that a change reads as the actions it adds or removes."""
    return json.dumps(document, indent=2) + "\n"


def policy_size(document: Mapping[str, Any]) -> int:
    """Characters IAM counts for the policy (whitespace is not counted)."""
    return len(json.dumps(document, separators=(",", ":")))


if __name__ == "__main__":
    sys.stdout.write(render(policy(sys.argv[1] if len(sys.argv) > 1 else TEMPLATE_PATH)))
