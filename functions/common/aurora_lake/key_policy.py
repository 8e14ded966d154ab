"""What a KMS key brought by the user (ExistingKmsKeyArn) must allow, checked before it is used.

A key the stack creates carries these statements itself. A key brought along may lack one,
and the one that fails quietly is CloudWatch's: alarms that cannot use the key to publish to
the encrypted topic go off and nobody hears them. StartExport therefore reads the key policy
(before the first export that would rely on it) and fails naming each missing grant.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from fnmatch import fnmatchcase
from typing import Any

from aurora_lake import clients
from aurora_lake.errors import KmsKeyPolicyIncomplete

# Service principal -> the actions it must be allowed (key policies may grant them by wildcard).
REQUIRED_SERVICE_GRANTS: dict[str, tuple[str, ...]] = {
    "cloudwatch.amazonaws.com": ("kms:Decrypt", "kms:GenerateDataKey"),
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _services(statement: Mapping[str, Any]) -> set[str]:
    principal = statement.get("Principal")
    if principal == "*":
        return {"*"}
    if not isinstance(principal, Mapping):
        return set()
    return {str(service) for service in _as_list(principal.get("Service", []))}


def _covers(patterns: Iterable[Any], action: str) -> bool:
    return any(fnmatchcase(action.lower(), str(pattern).lower()) for pattern in patterns)


def missing_grants(policy: Mapping[str, Any]) -> list[str]:
    """Each required "service: action" the policy does not allow (or denies)."""
    statements = [s for s in _as_list(policy.get("Statement", [])) if isinstance(s, Mapping)]
    missing = []
    for service, actions in REQUIRED_SERVICE_GRANTS.items():
        for action in actions:
            relevant = [s for s in statements if service in _services(s) or "*" in _services(s)]
            allowed = any(s.get("Effect") == "Allow" and _covers(_as_list(s.get("Action", [])), action) for s in relevant)
            denied = any(s.get("Effect") == "Deny" and "Condition" not in s and _covers(_as_list(s.get("Action", [])), action)
                         for s in relevant)
            if not allowed or denied:
                missing.append(f"{service}: {action}")
    return missing


def require_grants(key_arn: str) -> None:
    """Raise KmsKeyPolicyIncomplete naming every grant the key's policy lacks."""
    text = clients.client("kms").get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"]
    missing = missing_grants(json.loads(text))
    if missing:
        raise KmsKeyPolicyIncomplete(
            f"The key policy of {key_arn} (ExistingKmsKeyArn) does not allow {'; '.join(missing)}. "
            "Without it the stack's alarms cannot publish to the encrypted topic. Add a statement allowing "
            "cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey* (docs/operations.md, "
            "\"An existing key or bucket\"), then start the execution again."
        )
