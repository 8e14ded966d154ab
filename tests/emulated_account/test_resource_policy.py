"""The resource-policy side of the emulated account's IAM evaluator (bucket, key, bus and trust policies)."""

from __future__ import annotations

import pytest

from emulated_account.iam_policy import Policy, Principal, Request, ResourcePolicy, UnsupportedPolicy, decide

SOURCE_ROLE = Principal(arn="arn:aws:iam::111111111111:role/aurora-lake-source-export")
OTHER_ROLE = Principal(arn="arn:aws:iam::222222222222:role/aurora-lake-source-export")
OWN_FOLDER = {
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": ["111111111111", "222222222222"]},
            "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::lake/exports/accounts/${aws:PrincipalAccount}/*",
            "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/aurora-lake-source-export"}},
        }
    ]
}
EVERYTHING = Policy.of([{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}])
NOTHING = Policy.of([])


def _put(account: str) -> Request:
    return Request("s3:PutObject", f"arn:aws:s3:::lake/exports/accounts/{account}/x")


def test_the_principal_account_variable_confines_each_account_to_its_folder() -> None:
    policy = ResourcePolicy.of(OWN_FOLDER)
    assert decide(SOURCE_ROLE, _put("111111111111"), EVERYTHING, policy, "123456789012")
    assert not decide(OTHER_ROLE, _put("111111111111"), EVERYTHING, policy, "123456789012")


def test_across_accounts_the_identity_policy_must_allow_too() -> None:
    assert not decide(SOURCE_ROLE, _put("111111111111"), NOTHING, ResourcePolicy.of(OWN_FOLDER), "123456789012")


def test_within_one_account_either_policy_allows() -> None:
    lake_role = Principal(arn="arn:aws:iam::123456789012:role/reader")
    assert decide(lake_role, _put("x"), EVERYTHING, ResourcePolicy([]), "123456789012")
    assert not decide(lake_role, _put("x"), NOTHING, ResourcePolicy([]), "123456789012")


def test_a_role_of_another_name_or_an_unlisted_account_is_not_named() -> None:
    policy = ResourcePolicy.of(OWN_FOLDER)
    assert not decide(Principal(arn="arn:aws:iam::111111111111:role/admin"), _put("111111111111"), EVERYTHING, policy, "123456789012")
    assert not decide(Principal(arn="arn:aws:iam::333333333333:role/aurora-lake-source-export"), _put("333333333333"), EVERYTHING, policy, "123456789012")


def test_an_explicit_deny_of_the_resource_policy_wins() -> None:
    deny = {"Statement": [*OWN_FOLDER["Statement"], {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*"}]}
    assert not decide(SOURCE_ROLE, _put("111111111111"), EVERYTHING, ResourcePolicy.of(deny), "123456789012")


def test_a_variable_without_a_value_matches_nothing() -> None:
    policy = ResourcePolicy.of({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::lake/${aws:PrincipalAccount}/*"}]})
    service = Principal(service="export.rds.amazonaws.com")
    assert policy.verdict(service, Request("s3:PutObject", "arn:aws:s3:::lake//x")) == "none"


def test_a_trust_policy_implies_its_role_as_resource_and_an_ordinary_one_does_not() -> None:
    statement = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}
    trust = ResourcePolicy.of({"Statement": [statement]}, trust=True)
    assert trust.verdict(Principal(arn="arn:aws:iam::123456789012:role/x"), Request("sts:AssumeRole", "arn:aws:iam::1:role/r")) == "allow"
    with pytest.raises(UnsupportedPolicy):
        ResourcePolicy.of({"Statement": [statement]})


@pytest.mark.parametrize("principal", [{"Federated": "cognito-identity.amazonaws.com"}, ["111111111111"]])
def test_principal_forms_the_evaluator_cannot_judge_fail_loudly(principal: object) -> None:
    with pytest.raises(UnsupportedPolicy):
        ResourcePolicy.of({"Statement": [{"Effect": "Allow", "Principal": principal, "Action": "s3:*", "Resource": "*"}]})
