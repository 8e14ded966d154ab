"""Inputs naming a source account: every hostile form refused before anything is created."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

_COMMON = str(Path(__file__).resolve().parents[2] / "functions" / "common")
if _COMMON not in sys.path:
    sys.path.insert(0, _COMMON)

from aurora_lake import settings  # noqa: E402
from aurora_lake.errors import AccountNotAllowed, ClusterNotAllowed, InvalidInput  # noqa: E402
from aurora_lake.input_schema import validate_execution_input  # noqa: E402

REGION = "us-east-1"
LAKE = "123456789012"
ORDERS_ACCOUNT = "111111111111"
BILLING_ACCOUNT = "222222222222"
THIRD_ACCOUNT = "333333333333"
ORGANIZATION = "o-a1b2c3d4e5"


def arn(account: str, name: str = "orders-aurora-2026-12-01", kind: str = "cluster-snapshot") -> str:
    return f"arn:aws:rds:{REGION}:{account}:{kind}:{name}"


def validate(raw: object, allowed: frozenset[str] | None = frozenset({"demo-aurora-cluster"}), organization: str | None = ORGANIZATION) -> dict[str, Any]:
    return validate_execution_input(
        raw, region=REGION, account=LAKE, partition="aws", allowed_clusters=allowed,
        default_s3_prefix="exports/", organization_id=organization,
    )


def problems_of(raw: object, organization: str | None = ORGANIZATION) -> str:
    with pytest.raises(InvalidInput) as caught:
        validate(raw, organization=organization)
    return str(caught.value)


# --- account_id ------------------------------------------------------------------------------


@pytest.mark.parametrize("account", ["11111111111", "1111111111111", "11111111111a", " 111111111111", "111111111111\n",
                                     "１１１１１１１１１１１１", 111111111111, None, "", "../111111111111"])
def test_an_account_id_that_is_not_twelve_ascii_digits_is_refused(account: object) -> None:
    assert "account_id:" in problems_of({"cluster_identifier": "orders-aurora", "account_id": account})


def test_without_an_organization_another_account_is_refused_before_anything_is_created() -> None:
    with pytest.raises(AccountNotAllowed, match=f"account_id: '{THIRD_ACCOUNT}'.*OrganizationId"):
        validate({"cluster_identifier": "orders-aurora", "account_id": THIRD_ACCOUNT}, organization=None)
    assert "OrganizationId" in problems_of({"snapshot_arn": arn(THIRD_ACCOUNT)}, organization=None)


def test_with_an_organization_any_account_is_taken_iam_and_the_opt_in_tag_decide() -> None:
    # No list of accounts or clusters in the lake: the access role exists only where the stack set
    # reached, and the source's tag is checked before anything is created (opt_in.py).
    job = validate({"cluster_identifier": "Orders-Aurora", "account_id": THIRD_ACCOUNT})
    assert job["source_account"] == THIRD_ACCOUNT and job["cluster_identifier"] == "orders-aurora"
    assert job["s3_prefix"] == f"exports/accounts/{THIRD_ACCOUNT}/"


def test_the_lakes_own_allowed_clusters_still_bound_the_lakes_own_account() -> None:
    with pytest.raises(ClusterNotAllowed):
        validate({"cluster_identifier": "orders-aurora"})
    # A cluster of the lake's own name in a source account is that account's (its tag decides).
    assert validate({"cluster_identifier": "demo-aurora-cluster", "account_id": ORDERS_ACCOUNT})["source_account"] == ORDERS_ACCOUNT


def test_the_lakes_own_account_named_explicitly_is_the_lakes_own_input() -> None:
    assert validate({"cluster_identifier": "demo-aurora-cluster", "account_id": LAKE}) == validate({"cluster_identifier": "demo-aurora-cluster"})


def test_db_instances_of_source_accounts_are_taken_like_clusters() -> None:
    job = validate({"db_instance_identifier": "orders-db", "account_id": ORDERS_ACCOUNT})
    assert (job["source_kind"], job["source_identifier"], job["source_account"]) == ("instance", "orders-db", ORDERS_ACCOUNT)
    snapshot = validate({"snapshot_arn": arn(ORDERS_ACCOUNT, "orders-db-1", "snapshot")})
    assert (snapshot["source_kind"], snapshot["source_account"]) == ("instance", ORDERS_ACCOUNT)


# --- snapshot ARNs of other accounts ------------------------------------------------------


def test_a_snapshot_of_a_source_account_is_exported_in_that_account() -> None:
    job = validate({"snapshot_arn": arn(ORDERS_ACCOUNT)})
    assert job["source_account"] == ORDERS_ACCOUNT and job["s3_prefix"] == f"exports/accounts/{ORDERS_ACCOUNT}/"


def test_a_snapshot_arn_of_another_account_than_account_id_is_refused() -> None:
    text = problems_of({"snapshot_arn": arn(BILLING_ACCOUNT), "account_id": ORDERS_ACCOUNT})
    assert f"snapshot_arn: account '{BILLING_ACCOUNT}' is not account_id '{ORDERS_ACCOUNT}'" in text


def test_an_aws_backup_recovery_point_of_another_account_without_an_organization_is_refused() -> None:
    job = {"state": "COMPLETED", "resourceType": "Aurora", "recoveryPointArn": arn(THIRD_ACCOUNT, "awsbackup:job-1")}
    assert "aws_backup_job.recoveryPointArn" in problems_of({"aws_backup_job": job}, organization=None)


# --- events of source accounts -------------------------------------------------------------


def test_an_event_of_one_account_about_another_accounts_snapshot_is_refused() -> None:
    text = problems_of({"snapshot_arn": arn(ORDERS_ACCOUNT), "trigger": "snapshot-event", "event_account": BILLING_ACCOUNT})
    assert f"event_account: an event of account {BILLING_ACCOUNT} names a snapshot of account {ORDERS_ACCOUNT}" in text


def test_an_event_of_a_source_account_about_a_lake_snapshot_is_refused() -> None:
    text = problems_of({"snapshot_arn": arn(LAKE, "demo-aurora-cluster-1"), "trigger": "snapshot-event", "event_account": ORDERS_ACCOUNT})
    assert "event_account:" in text


def test_an_aws_backup_event_of_one_account_about_another_is_refused() -> None:
    backup = {"state": "COMPLETED", "resourceType": "RDS", "recoveryPointArn": arn(ORDERS_ACCOUNT, "awsbackup:job-1", "snapshot")}
    assert "event_account:" in problems_of({"aws_backup_job": backup, "trigger": "aws-backup", "event_account": BILLING_ACCOUNT})


def test_event_account_is_only_taken_from_the_stacks_rules() -> None:
    assert "event_account:" in problems_of({"snapshot_arn": arn(ORDERS_ACCOUNT), "event_account": ORDERS_ACCOUNT})
    assert "event_account:" in problems_of({"snapshot_arn": arn(ORDERS_ACCOUNT), "trigger": "snapshot-event", "event_account": "1"})


def test_an_event_of_the_snapshots_own_account_is_accepted() -> None:
    job = validate({"snapshot_arn": arn(ORDERS_ACCOUNT), "trigger": "snapshot-event", "event_account": ORDERS_ACCOUNT})
    assert job["source_account"] == ORDERS_ACCOUNT


# --- export folders ------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["exports/accounts/", "exports/accounts", "exports/accounts/111111111111/", "exports/accounts/2026_x/"])
def test_the_lakes_own_exports_never_reach_the_source_accounts_folder(prefix: str) -> None:
    assert "accounts/" in problems_of({"cluster_identifier": "demo-aurora-cluster", "s3_prefix": prefix})


@pytest.mark.parametrize("prefix", ["exports/", "exports/accounts/222222222222/", "exports/accounts/111111111111x/",
                                    "exports/accounts/1111111111/", "exports/2026_x/"])
def test_a_source_accounts_export_never_leaves_its_own_folder(prefix: str) -> None:
    text = problems_of({"cluster_identifier": "orders-aurora", "account_id": ORDERS_ACCOUNT, "s3_prefix": prefix})
    assert f"exports/accounts/{ORDERS_ACCOUNT}/" in text


def test_a_source_account_may_use_a_folder_below_its_own() -> None:
    job = validate({"cluster_identifier": "orders-aurora", "account_id": ORDERS_ACCOUNT, "s3_prefix": f"exports/accounts/{ORDERS_ACCOUNT}/2026_12"})
    assert job["s3_prefix"] == f"exports/accounts/{ORDERS_ACCOUNT}/2026_12/"


# --- the deployment's settings ----------------------------------------------------------------


def test_the_organization_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORGANIZATION_ID", ORGANIZATION)
    assert settings.organization_id() == ORGANIZATION
    for empty in ("", "  "):
        monkeypatch.setenv("ORGANIZATION_ID", empty)
        assert settings.organization_id() is None
    monkeypatch.delenv("ORGANIZATION_ID")
    assert settings.organization_id() is None


@pytest.mark.parametrize("value", ["o-short", "O-A1B2C3D4E5", "111111111111", "o-a1b2c3d4e5,o-b1b2c3d4e5", "ou-ab12-11111111"])
def test_a_misconfigured_organization_is_refused_loudly(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ORGANIZATION_ID", value)
    with pytest.raises(RuntimeError, match="not an organization ID"):
        settings.organization_id()
