"""A fleet over clusters of several accounts: at most the fleet's concurrency per account, accounts side by side."""

from __future__ import annotations

import json
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


def listed(item: dict[str, Any]) -> dict[str, Any]:
    return fleet.list_account_sources(item, LAKE)


def test_each_account_is_one_item_with_its_own_concurrency() -> None:
    plan = validate(ORGANIZATION, max_concurrency=5)
    assert [(item["account_id"], item["lake_account"], item["max_concurrency"], [s["identifier"] for s in item["sources"]])
            for item in plan["accounts"]] == [
        (LAKE, True, 5, ["demo-aurora-cluster"]),
        (ORDERS_ACCOUNT, False, 5, ["orders-aurora", "shared-name"]),
        (BILLING_ACCOUNT, False, 5, ["billing-aurora", "shared-name"]),
    ]
    assert plan["source_count"] == 5 and plan["account_count"] == 3
    orders = listed(plan["accounts"][1])
    assert fleet.export_input(orders["sources"][0], orders["options"]) == {"cluster_identifier": "orders-aurora", "account_id": ORDERS_ACCOUNT}
    assert orders["lake_account"] is False and orders["max_concurrency"] == 5
    assert listed(plan["accounts"][0])["sources"][0]["input"] == {"cluster_identifier": "demo-aurora-cluster"}


def test_a_cluster_of_the_same_name_in_two_accounts_gets_two_executions() -> None:
    names = [source["name"] for item in validate(ORGANIZATION)["accounts"] for source in listed(item)["sources"]]
    assert len(set(names)) == len(names) == 5
    assert all(len(name) <= 80 for name in names)


def test_the_lakes_own_fleet_input_is_one_account() -> None:
    plan = validate({"cluster_identifiers": ["orders", "billing"]}, max_concurrency=2)
    assert [item["account_id"] for item in plan["accounts"]] == [LAKE]


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
    many = [{"account_id": f"{n:012d}", "cluster_identifiers": ["a"]} for n in range(1, fleet.MAX_FLEET_ACCOUNTS + 2)]
    assert f"at most {fleet.MAX_FLEET_ACCOUNTS}" in problems({"source_accounts": many})


def test_one_s3_prefix_cannot_be_every_accounts_own_folder() -> None:
    assert "s3_prefix: is not taken together with source_accounts" in problems({**ORGANIZATION, "s3_prefix": "exports/accounts/111111111111/"})


def test_a_fleet_of_two_hundred_accounts_and_a_thousand_sources_is_planned_as_two_hundred_small_items() -> None:
    accounts = [{"account_id": f"{n:012d}", "cluster_identifiers": [f"orders-{n}-{i}" for i in range(5)]} for n in range(1, 201)]
    plan = validate({"source_accounts": accounts})
    assert plan["account_count"] == 200 and plan["source_count"] == 1000
    assert max(len(json.dumps(item)) for item in plan["accounts"]) < 1_000


def test_a_scheduled_fleet_without_an_organization_covers_the_lakes_own_allowed_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_CLUSTERS", "demo-aurora-cluster")
    monkeypatch.setenv("ALLOWED_DB_INSTANCES", "demo-postgres-db")
    monkeypatch.delenv("ORGANIZATION_ID", raising=False)
    plan = validate({"scheduled": True})
    assert [item["account_id"] for item in plan["accounts"]] == [LAKE]
    assert [[fleet.export_input(s, listed(item)["options"]) for s in listed(item)["sources"]] for item in plan["accounts"]] == [
        [{"cluster_identifier": "demo-aurora-cluster"}, {"db_instance_identifier": "demo-postgres-db"}],
    ]
