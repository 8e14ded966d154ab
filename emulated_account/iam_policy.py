"""A small IAM policy evaluator, enough to check this template's roles and resource policies.

Identity policies (``Policy``) and resource policies (``ResourcePolicy``: a bucket, key or event
bus policy, with ``Principal`` and policy variables such as ``${aws:PrincipalAccount}``); a
request across accounts needs both, a request in one account either (``decide``).

Implements what the template's policies use and refuses anything else loudly, so a policy that
this evaluator cannot judge fails the tests instead of being judged wrongly:

* Effect Allow and Deny (an explicit Deny wins; nothing allowed means denied);
* Action and NotAction, with ``*`` and ``?`` wildcards, case-insensitive as in IAM;
* Resource and NotResource, with ``*`` and ``?`` wildcards, case-sensitive as in IAM;
* Condition operators StringEquals, StringNotEquals, StringLike, StringNotLike, ArnEquals,
  ArnLike and Bool, each with its ``...IfExists`` form; several values of one key are ORed,
  several keys and operators are ANDed. A key absent from the request context makes its
  condition false (true for an ``IfExists`` or negated operator), as in IAM;
* the set operators ``ForAnyValue:`` and ``ForAllValues:`` over multivalued keys (IAM User Guide,
  "Set operators for multivalued context keys"): ForAnyValue is true when at least one value of
  the request satisfies the operator (false when the key is absent), ForAllValues when every value
  does (true when the key is absent). A multivalued key (``aws:PrincipalOrgPaths``,
  ``aws:ResourceOrgPaths``, ``aws:TagKeys``) compared without a set operator, or a single-valued one
  with a set operator, is refused: the evaluator does not guess;
* the organization's and the tags' keys, set by whoever builds the request: ``aws:PrincipalOrgID``,
  ``aws:PrincipalOrgPaths``, ``aws:PrincipalTag/*`` and ``aws:PrincipalIsAWSService`` (``Principal``),
  ``aws:ResourceOrgID``/``aws:ResourceOrgPaths``, ``aws:RequestTag/*``, ``aws:TagKeys``,
  ``aws:ResourceTag/*``, ``rds:*-tag/*``, ``kms:GrantIsForAWSResource`` (the request's context).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any


class UnsupportedPolicy(ValueError):
    """The policy uses an element or operator this evaluator does not implement."""


@cache
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{regex}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    return bool(_wildcard(pattern, True).match(action))


def resource_matches(pattern: str, resource: str) -> bool:
    return bool(_wildcard(pattern, False).match(resource))


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


_NEGATED = {"StringNotEquals", "StringNotLike"}
_OPERATORS = {"StringEquals", "StringNotEquals", "StringLike", "StringNotLike", "ArnEquals", "ArnLike", "Bool"}
_SET_OPERATORS = ("ForAnyValue:", "ForAllValues:")
# Keys whose request value is a set (IAM User Guide, global condition keys: "multivalued").
MULTIVALUED_KEYS = frozenset({"aws:PrincipalOrgPaths", "aws:ResourceOrgPaths", "aws:TagKeys", "aws:CalledVia", "aws:SourceOrgPaths"})

ContextValue = str | tuple[str, ...] | list[str]


def is_multivalued(key: str) -> bool:
    return key in MULTIVALUED_KEYS


def _operator_holds(operator: str, expected: Sequence[str], actual: str) -> bool:
    if operator in ("StringEquals", "ArnEquals"):
        return actual in expected
    if operator == "StringNotEquals":
        return actual not in expected
    if operator in ("StringLike", "ArnLike"):
        return any(resource_matches(p, actual) for p in expected)
    if operator == "StringNotLike":
        return not any(resource_matches(p, actual) for p in expected)
    if operator == "Bool":
        return actual.lower() in [str(e).lower() for e in expected]
    raise UnsupportedPolicy(f"condition operator {operator} is not implemented")


def _set_operator(raw_operator: str) -> tuple[str | None, str, bool]:
    """(ForAnyValue | ForAllValues | None, the operator, IfExists) of a condition operator."""
    set_operator, _, rest = raw_operator.rpartition(":")
    set_operator = set_operator or None
    if set_operator is not None and f"{set_operator}:" not in _SET_OPERATORS:
        raise UnsupportedPolicy(f"condition set operator {set_operator} is not implemented")
    return set_operator, rest.removesuffix("IfExists"), rest.endswith("IfExists")


def conditions_hold(condition: Mapping[str, Any] | None, context: Mapping[str, Any]) -> bool:
    for raw_operator, tests in (condition or {}).items():
        set_operator, operator, if_exists = _set_operator(raw_operator)
        for key, values in tests.items():
            expected = [str(v) for v in as_list(values)]
            if (set_operator is None) == is_multivalued(key):
                # IAM: set operators only with multivalued keys, and multivalued keys only with them.
                raise UnsupportedPolicy(
                    f"condition {raw_operator} on {key}: " + ("a multivalued key needs ForAnyValue/ForAllValues" if set_operator is None
                                                             else "a set operator on a single-valued key")
                )
            if key not in context:
                if set_operator == "ForAllValues" or if_exists or (set_operator is None and operator in _NEGATED):
                    continue
                return False
            actual = context[key]
            if set_operator is None:
                if not isinstance(actual, str):
                    raise UnsupportedPolicy(f"request key {key} holds several values; the policy compares it as one")
                if not _operator_holds(operator, expected, actual):
                    return False
                continue
            found = [actual] if isinstance(actual, str) else [str(v) for v in actual]
            results = [_operator_holds(operator, expected, value) for value in found]
            if not (any(results) if set_operator == "ForAnyValue" else all(results)):
                return False
    return True


@dataclass(frozen=True)
class Request:
    """One authorization: an action on a resource ARN, with the request's condition keys."""

    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)
    why: str = ""  # which call (or which service on the caller's behalf) makes it

    def __str__(self) -> str:
        extra = f" {dict(self.context)}" if self.context else ""
        return f"{self.action} on {self.resource}{extra} ({self.why})"


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    condition: Mapping[str, Any] | None
    sid: str = ""

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Statement:
        known = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
        unknown = set(raw) - known
        if unknown:
            raise UnsupportedPolicy(f"statement elements {sorted(unknown)} are not implemented (identity policies only)")
        if raw.get("Effect") not in ("Allow", "Deny"):
            raise UnsupportedPolicy(f"Effect must be Allow or Deny: {raw!r}")
        if ("Action" in raw) == ("NotAction" in raw) or ("Resource" in raw) == ("NotResource" in raw):
            raise UnsupportedPolicy(f"a statement needs exactly one of Action/NotAction and of Resource/NotResource: {raw!r}")
        statement = cls(
            effect=raw["Effect"],
            actions=tuple(as_list(raw.get("Action"))),
            not_actions=tuple(as_list(raw.get("NotAction"))),
            resources=tuple(as_list(raw.get("Resource"))),
            not_resources=tuple(as_list(raw.get("NotResource"))),
            condition=raw.get("Condition"),
            sid=raw.get("Sid", ""),
        )
        for operator in statement.condition or {}:  # refuse an unknown operator now, not mid-test
            if _set_operator(operator)[1] not in _OPERATORS:
                raise UnsupportedPolicy(f"condition operator {operator} is not implemented")
        return statement

    def covers_action(self, action: str) -> bool:
        if self.actions:
            return any(action_matches(p, action) for p in self.actions)
        return not any(action_matches(p, action) for p in self.not_actions)

    def covers_resource(self, resource: str) -> bool:
        if self.resources:
            return any(resource_matches(p, resource) for p in self.resources)
        return not any(resource_matches(p, resource) for p in self.not_resources)

    def applies(self, request: Request) -> bool:
        return (
            self.covers_action(request.action)
            and self.covers_resource(request.resource)
            and conditions_hold(self.condition, request.context)
        )


@dataclass
class Policy:
    """The union of a principal's identity policies."""

    statements: list[Statement]

    @classmethod
    def of(cls, documents: Iterable[Mapping[str, Any]]) -> Policy:
        statements = []
        for document in documents:
            statements += [Statement.parse(raw) for raw in as_list(document["Statement"])]
        return cls(statements)

    def allows(self, request: Request) -> bool:
        applying = [s for s in self.statements if s.applies(request)]
        if any(s.effect == "Deny" for s in applying):
            return False
        return any(s.effect == "Allow" for s in applying)

    def allowing(self, request: Request) -> list[Statement]:
        """The Allow statements that grant ``request`` (empty when a Deny applies)."""
        applying = [s for s in self.statements if s.applies(request)]
        if any(s.effect == "Deny" for s in applying):
            return []
        return [s for s in applying if s.effect == "Allow"]


_POLICY_VARIABLE = re.compile(r"\$\{(aws:[A-Za-z]+)\}")


def substitute_variables(pattern: str, context: Mapping[str, Any]) -> str:
    """``${aws:Key}`` in a Resource or a condition value becomes the request's value of aws:Key (IAM policy variables)."""

    def value(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in context:
            # IAM: a variable with no value in the request makes the element match nothing.
            return "\x00no-value\x00"
        if not isinstance(context[key], str):
            raise UnsupportedPolicy(f"policy variable ${{{key}}} names a multivalued key")
        return str(context[key])

    return _POLICY_VARIABLE.sub(value, pattern)


@dataclass(frozen=True)
class Principal:
    """Who makes a request: an IAM role (or its session) of an account, or an AWS service.

    ``org_id`` and ``org_paths``: the principal's account's organization and its path(s)
    (``o-id/r-id/ou-id/.../``), empty outside an organization; ``tags``: the role's tags.
    """

    arn: str = ""
    service: str = ""
    org_id: str = ""
    org_paths: tuple[str, ...] = ()
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def account(self) -> str:
        return self.arn.split(":")[4] if self.arn.count(":") >= 5 else ""

    def context(self) -> dict[str, Any]:
        """The global condition keys IAM sets for this principal (IAM User Guide, global condition keys)."""
        if self.service:
            return {"aws:PrincipalServiceName": self.service, "aws:PrincipalIsAWSService": "true"}
        context: dict[str, Any] = {"aws:PrincipalArn": self.arn, "aws:PrincipalAccount": self.account, "aws:PrincipalIsAWSService": "false"}
        if self.org_id:
            # Present only for a principal of an account in an organization.
            context["aws:PrincipalOrgID"] = self.org_id
            context["aws:PrincipalOrgPaths"] = tuple(self.org_paths)
        for key, value in self.tags:
            context[f"aws:PrincipalTag/{key}"] = value
        return context


def _principal_entries(raw: Any) -> list[tuple[str, str]]:
    if raw == "*":
        return [("AWS", "*")]
    if not isinstance(raw, Mapping):
        raise UnsupportedPolicy(f"Principal must be \"*\" or an object: {raw!r}")
    unknown = set(raw) - {"AWS", "Service"}
    if unknown:
        raise UnsupportedPolicy(f"principal types {sorted(unknown)} are not implemented")
    return [(kind, str(value)) for kind, values in raw.items() for value in as_list(values)]


def _principal_named(entry: tuple[str, str], who: Principal) -> bool:
    kind, value = entry
    if kind == "Service":
        return bool(who.service) and value == who.service
    if who.service:
        return value == "*"
    if value == "*":
        return True
    if re.fullmatch(r"\d{12}", value):  # an account ID means the account's root: any of its principals
        return value == who.account
    if value.endswith(":root"):
        return value.split(":")[4] == who.account
    return value == who.arn


@dataclass(frozen=True)
class ResourceStatement:
    statement: Statement
    principals: tuple[tuple[str, str], ...]

    def applies(self, who: Principal, request: Request) -> bool:
        if not any(_principal_named(entry, who) for entry in self.principals):
            return False
        context = {**who.context(), **request.context}
        resources = tuple(substitute_variables(r, context) for r in self.statement.resources)
        not_resources = tuple(substitute_variables(r, context) for r in self.statement.not_resources)
        condition = {
            operator: {key: [substitute_variables(str(v), context) for v in as_list(values)] for key, values in tests.items()}
            for operator, tests in (self.statement.condition or {}).items()
        }
        concrete = Statement(self.statement.effect, self.statement.actions, self.statement.not_actions, resources, not_resources, condition)
        return concrete.applies(Request(request.action, request.resource, context, request.why))


@dataclass
class ResourcePolicy:
    """A bucket, key or event bus policy."""

    statements: list[ResourceStatement]

    @classmethod
    def of(cls, document: Mapping[str, Any] | None, *, trust: bool = False) -> ResourcePolicy:
        """``trust``: a role's trust policy, whose statements name no Resource (the role is implied)."""
        statements = []
        for raw in as_list((document or {}).get("Statement")):
            if trust and "Resource" not in raw and "NotResource" not in raw:
                raw = {**raw, "Resource": "*"}
            if "NotPrincipal" in raw:
                raise UnsupportedPolicy("NotPrincipal is not implemented")
            if "Principal" not in raw:
                raise UnsupportedPolicy(f"a resource policy statement needs a Principal: {raw!r}")
            body = {k: v for k, v in raw.items() if k != "Principal"}
            statements.append(ResourceStatement(Statement.parse(body), tuple(_principal_entries(raw["Principal"]))))
        return cls(statements)

    def verdict(self, who: Principal, request: Request) -> str:
        """``deny`` (an explicit Deny applies), ``allow`` or ``none`` (nothing applies)."""
        applying = [s.statement.effect for s in self.statements if s.applies(who, request)]
        if "Deny" in applying:
            return "deny"
        return "allow" if "Allow" in applying else "none"


def decide(who: Principal, request: Request, identity: Policy | None, resource: ResourcePolicy, resource_account: str) -> bool:
    """IAM's answer for ``who`` asking ``request`` of a resource of ``resource_account``.

    An explicit Deny anywhere refuses. Within one account an Allow of either policy is enough;
    across accounts both the principal's identity policy and the resource policy must allow.
    An AWS service principal has no identity policy: the resource policy alone decides.
    """
    context = {**who.context(), **request.context}
    asked = Request(request.action, request.resource, context, request.why)
    resource_verdict = resource.verdict(who, asked)
    if resource_verdict == "deny":
        return False
    if identity is None:
        return resource_verdict == "allow"
    applying = [s.effect for s in identity.statements if s.applies(asked)]
    if "Deny" in applying:
        return False
    identity_allows = "Allow" in applying
    if who.account == resource_account:
        return identity_allows or resource_verdict == "allow"
    return identity_allows and resource_verdict == "allow"
