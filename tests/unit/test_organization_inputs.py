"""Inputs naming a source account (issue 20): every hostile form refused before anything is created."""

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
SOURCES = {ORDERS_ACCOUNT: frozenset({"orders-aurora"}), BILLING_ACCOUNT: frozenset({"billing-aurora"})}


def arn(account: str, name: str = "orders-aurora-2026-12-01", kind: str = "cluster-snapshot") -> str:
    return f"arn:aws:rds:{REGION}:{account}:{kind}:{name}"


def validate(raw: object, allowed: frozenset[str] | None = frozenset({"demo-aurora-cluster"})) -> dict[str, Any]:
    return validate_execution_input(
        raw, region=REGION, account=LAKE, partition="aws", allowed_clusters=allowed,
        default_s3_prefix="exports/", source_accounts=SOURCES,
    )


def problems_of(raw: object) -> str:
    with pytest.raises(InvalidInput) as caught:
        validate(raw)
    return str(caught.value)


# --- account_id ------------------------------------------------------------------------------


@pytest.mark.parametrize("account", ["11111111111", "1111111111111", "11111111111a", " 111111111111", "111111111111\n",
                                     "１１１１１１１１１１１１", 111111111111, None, "", "../111111111111"])
def test_an_account_id_that_is_not_twelve_ascii_digits_is_refused(account: object) -> None:
    assert "account_id:" in problems_of({"cluster_identifier": "orders-aurora", "account_id": account})


def test_an_account_that_is_not_a_source_account_is_refused_before_anything_is_created() -> None:
    with pytest.raises(AccountNotAllowed, match=f"account_id: '{THIRD_ACCOUNT}'.*SourceAccountIds"):
        validate({"cluster_identifier": "orders-aurora", "account_id": THIRD_ACCOUNT})


def test_a_cluster_allowed_in_one_account_is_refused_in_another() -> None:
    with pytest.raises(ClusterNotAllowed, match=f"'orders-aurora'.*account {BILLING_ACCOUNT}.*SourceAccountClusters"):
        validate({"cluster_identifier": "orders-aurora", "account_id": BILLING_ACCOUNT})


def test_the_lakes_own_allowed_clusters_do_not_allow_a_cluster_of_that_name_in_a_source_account() -> None:
    with pytest.raises(ClusterNotAllowed):
        validate({"cluster_identifier": "demo-aurora-cluster", "account_id": ORDERS_ACCOUNT})


def test_a_source_accounts_allowed_cluster_is_not_allowed_in_the_lakes_own_account() -> None:
    with pytest.raises(ClusterNotAllowed):
        validate({"cluster_identifier": "orders-aurora"})


def test_an_allowed_cluster_of_a_source_account_exports_under_its_accounts_folder() -> None:
    job = validate({"cluster_identifier": "Orders-Aurora", "account_id": ORDERS_ACCOUNT})
    assert job["source_account"] == ORDERS_ACCOUNT
    assert job["cluster_identifier"] == "orders-aurora"
    assert job["s3_prefix"] == f"exports/accounts/{ORDERS_ACCOUNT}/"


def test_the_lakes_own_account_named_explicitly_is_the_lakes_own_input() -> None:
    assert validate({"cluster_identifier": "demo-aurora-cluster", "account_id": LAKE}) == validate({"cluster_identifier": "demo-aurora-cluster"})


def test_db_instances_of_source_accounts_are_refused_clusters_only() -> None:
    assert "clusters only" in problems_of({"db_instance_identifier": "orders-db", "account_id": ORDERS_ACCOUNT})
    assert "clusters only" in problems_of({"snapshot_arn": arn(ORDERS_ACCOUNT, "orders-db-1", "snapshot")})


# --- snapshot ARNs of other accounts ------------------------------------------------------


def test_a_snapshot_of_a_source_account_is_exported_in_that_account() -> None:
    job = validate({"snapshot_arn": arn(ORDERS_ACCOUNT)})
    assert job["source_account"] == ORDERS_ACCOUNT and job["s3_prefix"] == f"exports/accounts/{ORDERS_ACCOUNT}/"


def test_a_snapshot_arn_of_another_account_than_account_id_is_refused() -> None:
    text = problems_of({"snapshot_arn": arn(BILLING_ACCOUNT), "account_id": ORDERS_ACCOUNT})
    assert f"snapshot_arn: account '{BILLING_ACCOUNT}' is not account_id '{ORDERS_ACCOUNT}'" in text


def test_a_snapshot_of_an_account_that_is_not_a_source_account_is_refused() -> None:
    text = problems_of({"snapshot_arn": arn(THIRD_ACCOUNT)})
    assert THIRD_ACCOUNT in text and "SourceAccountIds" in text


def test_an_aws_backup_recovery_point_of_an_unknown_account_is_refused() -> None:
    job = {"state": "COMPLETED", "resourceType": "Aurora", "recoveryPointArn": arn(THIRD_ACCOUNT, "awsbackup:job-1")}
    assert "aws_backup_job.recoveryPointArn" in problems_of({"aws_backup_job": job})


# --- events of source accounts -------------------------------------------------------------


def test_an_event_of_one_account_about_another_accounts_snapshot_is_refused() -> None:
    text = problems_of({"snapshot_arn": arn(ORDERS_ACCOUNT), "trigger": "snapshot-event", "event_account": BILLING_ACCOUNT})
    assert f"event_account: an event of account {BILLING_ACCOUNT} names a snapshot of account {ORDERS_ACCOUNT}" in text


def test_an_event_of_a_source_account_about_a_lake_snapshot_is_refused() -> None:
    text = problems_of({"snapshot_arn": arn(LAKE, "demo-aurora-cluster-1"), "trigger": "snapshot-event", "event_account": ORDERS_ACCOUNT})
    assert "event_account:" in text


def test_an_aws_backup_event_of_one_account_about_another_is_refused() -> None:
    backup = {"state": "COMPLETED", "resourceType": "Aurora", "recoveryPointArn": arn(ORDERS_ACCOUNT, "awsbackup:job-1")}
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


def test_source_account_clusters_are_read_per_account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_ACCOUNT_IDS", f"{ORDERS_ACCOUNT}, {BILLING_ACCOUNT}")
    monkeypatch.setenv("SOURCE_ACCOUNT_CLUSTERS", f"{ORDERS_ACCOUNT}:Orders-Aurora,{BILLING_ACCOUNT}:billing-aurora, {ORDERS_ACCOUNT}:orders-2")
    assert settings.source_accounts() == {ORDERS_ACCOUNT: frozenset({"orders-aurora", "orders-2"}), BILLING_ACCOUNT: frozenset({"billing-aurora"})}


def test_no_source_accounts_is_todays_single_account_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_ACCOUNT_IDS", raising=False)
    monkeypatch.delenv("SOURCE_ACCOUNT_CLUSTERS", raising=False)
    assert settings.source_accounts() == {}
    monkeypatch.setenv("SOURCE_ACCOUNT_IDS", "")
    monkeypatch.setenv("SOURCE_ACCOUNT_CLUSTERS", "")
    assert settings.source_accounts() == {}


@pytest.mark.parametrize("ids, clusters, named", [
    (ORDERS_ACCOUNT, f"{THIRD_ACCOUNT}:orders-aurora", THIRD_ACCOUNT),  # an account that is not a source account
    (ORDERS_ACCOUNT, "orders-aurora", "orders-aurora"),  # no account
    (ORDERS_ACCOUNT, f"{ORDERS_ACCOUNT}:", ORDERS_ACCOUNT),  # no cluster
    (ORDERS_ACCOUNT, f"{ORDERS_ACCOUNT}:orders_aurora", "orders_aurora"),  # not a cluster identifier
    (ORDERS_ACCOUNT, f"{ORDERS_ACCOUNT}:*", "*"),  # no wildcard for another account's clusters
    ("11111111111", "", "11111111111"),  # not 12 digits
    (f"{ORDERS_ACCOUNT},abc", "", "abc"),
])
def test_a_misconfigured_source_account_entry_is_refused_loudly(monkeypatch: pytest.MonkeyPatch, ids: str, clusters: str, named: str) -> None:
    monkeypatch.setenv("SOURCE_ACCOUNT_IDS", ids)
    monkeypatch.setenv("SOURCE_ACCOUNT_CLUSTERS", clusters)
    with pytest.raises(RuntimeError, match=named.replace("*", r"\*")):
        settings.source_accounts()
