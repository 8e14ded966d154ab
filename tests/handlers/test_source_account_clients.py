"""RDS of a source account through its access role: one place for clients, credentials renewed before they expire."""

from __future__ import annotations

import datetime as dt
from typing import Any

import boto3
import pytest

from aurora_lake import clients

SOURCE = "111111111111"
OTHER_SOURCE = "222222222222"


def cluster_in(account: str | None, name: str) -> None:
    clients.client("rds", account=account).create_db_cluster(
        DBClusterIdentifier=name, Engine="aurora-postgresql", MasterUsername="admin_user", MasterUserPassword="not-a-real-password-1"
    )


def clusters_seen(account: str | None) -> list[str]:
    return [c["DBClusterIdentifier"] for c in clients.client("rds", account=account).describe_db_clusters()["DBClusters"]]


@pytest.fixture(autouse=True)
def lake_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AURORA_LAKE_STACK", "aurora-lake")


def test_a_source_accounts_rds_is_that_accounts_own(aws: None) -> None:
    cluster_in(SOURCE, "orders-aurora")
    cluster_in(OTHER_SOURCE, "billing-aurora")
    cluster_in(None, "demo-aurora-cluster")
    assert clusters_seen(SOURCE) == ["orders-aurora"]
    assert clusters_seen(OTHER_SOURCE) == ["billing-aurora"]
    assert clusters_seen(None) == ["demo-aurora-cluster"]


def test_the_access_role_assumed_is_the_source_templates(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Derived from the lake's stack name and the Region, as source-account.yaml names it.
    assert clients.source_access_role_arn(SOURCE) == f"arn:aws:iam::{SOURCE}:role/aurora-lake-source-access-us-east-1"
    monkeypatch.setenv("AURORA_LAKE_STACK", "finance-lake")
    clients.reset()
    assert clients.source_access_role_arn(SOURCE) == f"arn:aws:iam::{SOURCE}:role/finance-lake-source-access-us-east-1"
    monkeypatch.setenv("AURORA_LAKE_STACK", "x" * 31)
    clients.reset()
    with pytest.raises(ValueError, match="30 characters"):
        clients.source_access_role_arn(SOURCE)


def test_credentials_are_reused_then_renewed_before_they_expire(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    assumed: list[str] = []
    real_client = boto3.session.Session.client

    def counting_client(self: Any, service: str, *args: Any, **kwargs: Any) -> Any:
        made = real_client(self, service, *args, **kwargs)
        if service == "sts":
            made.meta.events.register("before-call.sts.AssumeRole", lambda params, **_: assumed.append(params["body"]["RoleArn"]))
        return made

    monkeypatch.setattr(boto3.session.Session, "client", counting_client)
    rds = clients.client("rds", account=SOURCE)
    assert clients.client("rds", account=SOURCE) is rds
    assert len(assumed) == 1
    # Credentials that expire within the renewal margin are renewed before the next call.
    clients._accounts[SOURCE].expires_at = dt.datetime.now(dt.timezone.utc).timestamp() + clients.REFRESH_BEFORE_EXPIRY_SECONDS - 1
    renewed = clients.client("rds", account=SOURCE)
    assert renewed is not rds and len(assumed) == 2
    assert assumed == [f"arn:aws:iam::{SOURCE}:role/aurora-lake-source-access-us-east-1"] * 2


@pytest.mark.parametrize("account", ["11111111111", "1111111111112", "abcdefghijkl", "111111111111 ", "１１１１１１１１１１１１"])
def test_an_account_that_is_not_twelve_digits_is_never_assumed(aws: None, account: str) -> None:
    with pytest.raises(ValueError, match="12-digit"):
        clients.client("rds", account=account)


@pytest.mark.parametrize("service", ["s3", "kms", "glue", "sns", "stepfunctions"])
def test_only_rds_is_called_in_a_source_account(aws: None, service: str) -> None:
    with pytest.raises(ValueError, match="never called in a source account"):
        clients.client(service, account=SOURCE)


@pytest.mark.parametrize("function_name, expected", [
    ("aurora-lake-ValidateInputFunction-AbC123", "aurora-lake-ValidateInputFunction-AbC123"),
    ("lake-Ä function", "lake---function"),
    ("x" * 70, "x" * 64),
    ("x", "x-"),
])
def test_the_role_session_names_the_function_within_stss_rules(monkeypatch: pytest.MonkeyPatch, function_name: str, expected: str) -> None:
    # CloudTrail in the source account shows which lake function called: 2 to 64 of [\w+=,.@-].
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", function_name)
    assert clients._role_session_name() == expected
