"""A fleet over clusters of several accounts: at most the fleet's concurrency per account, accounts side by side."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

_COMMON = str(Path(__file__).resolve().parents[2] / "functions" / "common")
if _COMMON not in sys.path:
    sys.path.insert(0, _COMMON)

from aurora_lake import fleet  # noqa: E402
from aurora_lake.errors import InvalidInput  # noqa: E402

LAKE = "123456789012"
ORDERS_ACCOUNT = "111111111111"
BILLING_ACCOUNT = "222222222222"


def validate(raw: object, max_concurrency: int = 5) -> dict[str, Any]:
    return fleet.validate_fleet_input(raw, region="us-east-1", account=LAKE, partition="aws", default_s3_prefix="exports/",
                                      execution_name="nightly", max_concurrency=max_concurrency)


def problems(raw: object) -> str:
    with pytest.raises(InvalidInput) as caught:
        validate(raw)
    return str(caught.value)


ORGANIZATION = {
    "cluster_identifiers": ["demo-aurora-cluster"],
    "source_accounts": [
        {"account_id": ORDERS_ACCOUNT, "cluster_identifiers": ["orders-aurora", "shared-name"]},
        {"account_id": BILLING_ACCOUNT, "cluster_identifiers": ["billing-aurora", "shared-name"]},
    ],
}


def test_each_account_is_one_group_with_its_own_concurrency() -> None:
    job = validate(ORGANIZATION, max_concurrency=5)
    assert [(group["account_id"], group["max_concurrency"], [item["source_identifier"] for item in group["items"]]) for group in job["accounts"]] == [
        (None, 5, ["demo-aurora-cluster"]),
        (ORDERS_ACCOUNT, 5, ["orders-aurora", "shared-name"]),
        (BILLING_ACCOUNT, 5, ["billing-aurora", "shared-name"]),
    ]
    assert job["cluster_count"] == 5
    orders = job["accounts"][1]["items"][0]
    assert orders["input"] == {"cluster_identifier": "orders-aurora", "account_id": ORDERS_ACCOUNT}
    assert orders["source_account"] == ORDERS_ACCOUNT and job["accounts"][0]["items"][0]["source_account"] is None


def test_a_cluster_of_the_same_name_in_two_accounts_gets_two_executions() -> None:
    names = [item["execution_name"] for group in validate(ORGANIZATION)["accounts"] for item in group["items"]]
    assert len(set(names)) == len(names) == 5
    assert all(len(name) <= 80 for name in names)


def test_the_lakes_own_fleet_input_reads_as_before() -> None:
    job = validate({"cluster_identifiers": ["orders", "billing"]}, max_concurrency=2)
    assert [group["account_id"] for group in job["accounts"]] == [None]
    assert job["accounts"][0]["items"] == job["items"]


@pytest.mark.parametrize("entry, expected", [
    ({"account_id": "11111111111", "cluster_identifiers": ["a"]}, "source_accounts[0].account_id: must be a 12-digit"),
    ({"account_id": 111111111111, "cluster_identifiers": ["a"]}, "source_accounts[0].account_id: must be a 12-digit"),
    ({"account_id": LAKE, "cluster_identifiers": ["a"]}, "the lake's own clusters go in cluster_identifiers"),
    ({"account_id": ORDERS_ACCOUNT}, "source_accounts[0].cluster_identifiers: must name at least one cluster"),
    ({"account_id": ORDERS_ACCOUNT, "cluster_identifiers": ["bad_name"]}, "source_accounts[0].cluster_identifiers[0]: may contain only"),
    ({"account_id": ORDERS_ACCOUNT, "cluster_identifiers": ["a", "A"]}, "source_accounts[0].cluster_identifiers[1]: duplicates"),
    ({"account_id": ORDERS_ACCOUNT, "cluster_identifiers": ["a"], "db_instance_identifiers": ["b"]}, "source_accounts[0].db_instance_identifiers: unknown key"),
    ("111111111111", "source_accounts[0]: must be an object"),
])
def test_a_malformed_source_account_entry_is_refused_as_a_whole(entry: object, expected: str) -> None:
    assert expected in problems({"source_accounts": [entry]})


def test_an_account_given_twice_is_refused() -> None:
    entry = {"account_id": ORDERS_ACCOUNT, "cluster_identifiers": ["a"]}
    assert "source_accounts[1].account_id: duplicates source_accounts[0]" in problems({"source_accounts": [entry, {**entry, "cluster_identifiers": ["b"]}]})


def test_source_accounts_must_be_a_list_of_at_most_max_accounts() -> None:
    assert "source_accounts: must be an array" in problems({"source_accounts": {"account_id": ORDERS_ACCOUNT}})
    many = [{"account_id": f"{n:012d}", "cluster_identifiers": ["a"]} for n in range(1, fleet.MAX_SOURCE_ACCOUNTS + 2)]
    assert f"at most {fleet.MAX_SOURCE_ACCOUNTS}" in problems({"source_accounts": many})


def test_one_s3_prefix_cannot_be_every_accounts_own_folder() -> None:
    assert "s3_prefix: is not taken together with source_accounts" in problems({**ORGANIZATION, "s3_prefix": "exports/accounts/111111111111/"})


def test_a_fleet_holds_at_most_max_fleet_sources_in_all() -> None:
    accounts = [{"account_id": f"{n:012d}", "cluster_identifiers": [f"c{i}" for i in range(fleet.MAX_CLUSTERS)]} for n in range(1, 4)]
    assert f"at most {fleet.MAX_FLEET_SOURCES} sources in all" in problems({"source_accounts": accounts})


def test_the_summary_of_nested_account_results_names_each_account() -> None:
    ok = {"status": "SUCCEEDED", "source_kind": "cluster", "source_identifier": "orders-aurora", "source_account": ORDERS_ACCOUNT}
    refused = {"status": "FAILED", "source_kind": "cluster", "source_identifier": "x", "source_account": "333333333333",
               "error": "AccountNotAllowed", "cause": "account_id: not a source account"}
    own = {"status": "SUCCEEDED", "source_kind": "cluster", "source_identifier": "demo-aurora-cluster", "source_account": None}
    result = fleet.summary([[own], [ok, refused]])
    assert [(o["source_identifier"], o.get("source_account"), o["outcome"]) for o in result["clusters"]] == [
        ("demo-aurora-cluster", None, "SUCCEEDED"), ("orders-aurora", ORDERS_ACCOUNT, "SUCCEEDED"), ("x", "333333333333", "REFUSED")]
    assert result["cause"] == "1 of 3 sources did not export: x of account 333333333333 (AccountNotAllowed)"


def test_a_successful_sources_account_is_read_from_its_executions_job() -> None:
    base = {"status": "SUCCEEDED", "source_kind": "cluster", "source_identifier": "orders-aurora"}
    outcomes = fleet.summary([[{**base, "account": LAKE}], [{**base, "account": ORDERS_ACCOUNT}]], lake_account=LAKE)["clusters"]
    assert [o.get("source_account") for o in outcomes] == [None, ORDERS_ACCOUNT]
