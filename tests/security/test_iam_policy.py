"""The IAM evaluator the least-privilege tests rely on judges as IAM does, and refuses what it cannot judge."""

from __future__ import annotations

import pytest

from .iam_policy import Policy, Request, UnsupportedPolicy

BUCKET = "arn:aws:s3:::exports"


def _policy(*statements: dict) -> Policy:
    return Policy.of([{"Version": "2012-10-17", "Statement": list(statements)}])


def test_wildcards_actions_ignore_case_resources_do_not() -> None:
    policy = _policy({"Effect": "Allow", "Action": "s3:Get*", "Resource": f"{BUCKET}/exports/*"})
    assert policy.allows(Request("S3:GETOBJECT", f"{BUCKET}/exports/a/b.parquet"))
    assert not policy.allows(Request("s3:GetObject", f"{BUCKET}/EXPORTS/a"))
    assert not policy.allows(Request("s3:PutObject", f"{BUCKET}/exports/a"))
    assert not policy.allows(Request("s3:GetObject", BUCKET))
    single = _policy({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "arn:aws:kms:*:1:key/?"})
    assert single.allows(Request("kms:Decrypt", "arn:aws:kms:eu-west-1:1:key/a"))
    assert not single.allows(Request("kms:Decrypt", "arn:aws:kms:eu-west-1:1:key/ab"))


def test_an_explicit_deny_wins_and_nothing_allowed_is_denied() -> None:
    policy = _policy(
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": f"{BUCKET}/*"},
    )
    assert policy.allows(Request("s3:GetObject", f"{BUCKET}/a"))
    assert not policy.allows(Request("s3:DeleteObject", f"{BUCKET}/a"))
    assert not _policy().allows(Request("s3:GetObject", f"{BUCKET}/a"))


def test_not_action_and_not_resource() -> None:
    policy = _policy({"Effect": "Allow", "NotAction": "iam:*", "NotResource": f"{BUCKET}/secret/*"})
    assert policy.allows(Request("s3:GetObject", f"{BUCKET}/public/a"))
    assert not policy.allows(Request("iam:PassRole", "arn:aws:iam::1:role/r"))
    assert not policy.allows(Request("s3:GetObject", f"{BUCKET}/secret/a"))


def test_conditions_missing_keys_and_if_exists() -> None:
    listing = _policy({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": BUCKET,
                       "Condition": {"StringLike": {"s3:prefix": ["exports/*", "athena-results/*"]}}})
    assert listing.allows(Request("s3:ListBucket", BUCKET, {"s3:prefix": "exports/x/"}))
    assert not listing.allows(Request("s3:ListBucket", BUCKET, {"s3:prefix": "athena-plans/"}))
    assert not listing.allows(Request("s3:ListBucket", BUCKET))  # absent key: the condition is false
    tls = _policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
                  {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    assert not tls.allows(Request("s3:GetObject", f"{BUCKET}/a", {"aws:SecureTransport": "false"}))
    assert tls.allows(Request("s3:GetObject", f"{BUCKET}/a", {"aws:SecureTransport": "true"}))
    optional = _policy({"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
                        "Condition": {"StringEqualsIfExists": {"kms:ViaService": "s3.us-east-1.amazonaws.com"}}})
    assert optional.allows(Request("kms:Decrypt", "k"))
    assert not optional.allows(Request("kms:Decrypt", "k", {"kms:ViaService": "sns.us-east-1.amazonaws.com"}))


@pytest.mark.parametrize("statement", [
    {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"NumericLessThan": {"s3:max-keys": "10"}}},
    {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"ForAnyValue:NumericLessThan": {"s3:max-keys": "10"}}},
    {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"ForSomeValues:StringEquals": {"aws:TagKeys": "a"}}},
    {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Principal": "*"},
    {"Effect": "Maybe", "Action": "s3:*", "Resource": "*"},
    {"Effect": "Allow", "Action": "s3:*", "NotAction": "s3:Put*", "Resource": "*"},
])
def test_what_it_cannot_judge_is_refused(statement: dict) -> None:
    with pytest.raises(UnsupportedPolicy):
        _policy(statement)


# --- set operators and the organization's keys ------------------------------------------------------


def test_set_operators_follow_iams_rules_for_multivalued_keys() -> None:
    any_ou = _policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
                      "Condition": {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": ["o-a1b2c3d4e5/*/ou-ab12-11111111/*"]}}})
    inside = ("o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ou-ab12-22222222/",)
    outside = ("o-a1b2c3d4e5/r-ab12/ou-ab12-33333333/",)
    assert any_ou.allows(Request("s3:GetObject", "x", {"aws:PrincipalOrgPaths": inside}))
    assert not any_ou.allows(Request("s3:GetObject", "x", {"aws:PrincipalOrgPaths": outside}))
    assert not any_ou.allows(Request("s3:GetObject", "x"))  # ForAnyValue: an absent key matches nothing
    only_keys = _policy({"Effect": "Allow", "Action": "rds:AddTagsToResource", "Resource": "*",
                         "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}})
    assert only_keys.allows(Request("rds:AddTagsToResource", "x", {"aws:TagKeys": ("a",)}))
    assert not only_keys.allows(Request("rds:AddTagsToResource", "x", {"aws:TagKeys": ("a", "c")}))
    assert only_keys.allows(Request("rds:AddTagsToResource", "x"))  # ForAllValues: an absent key is vacuously true


@pytest.mark.parametrize("condition", [
    {"StringLike": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/*"}},  # multivalued without a set operator
    {"ForAnyValue:StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},  # a set operator on a single value
])
def test_set_operators_used_against_iams_rules_are_refused(condition: dict) -> None:
    policy = _policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": condition})
    with pytest.raises(UnsupportedPolicy):
        policy.allows(Request("s3:GetObject", "x", {"aws:PrincipalOrgPaths": ("o-a1b2c3d4e5/r-ab12/",), "aws:PrincipalOrgID": "o-a1b2c3d4e5"}))


def test_a_principal_carries_its_organization_and_tags_only_when_it_has_them() -> None:
    from emulated_account.iam_policy import Principal

    member = Principal(arn="arn:aws:iam::111111111111:role/r", org_id="o-a1b2c3d4e5", org_paths=("o-a1b2c3d4e5/r-ab12/",), tags=(("team", "x"),))
    assert member.context()["aws:PrincipalOrgID"] == "o-a1b2c3d4e5" and member.context()["aws:PrincipalTag/team"] == "x"
    assert "aws:PrincipalOrgID" not in Principal(arn="arn:aws:iam::333333333333:role/r").context()
    assert Principal(service="rds.amazonaws.com").context()["aws:PrincipalIsAWSService"] == "true"
