"""Discovery in the emulated organization: the scheduled fleet exports every opted-in source of every
account the lake reaches, learnt from AWS Organizations and the sources' tags, with no lake change."""

from __future__ import annotations

import io
import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from emulated_account import EmulatedAccount, data
from tests.scenarios.test_organization import _lake_state

ORDERS, BILLING = data.SOURCE_ACCOUNT_IDS
SANDBOX = data.SANDBOX_ACCOUNT_ID
# The lake's own DB instances left out: one of them (RDS Custom) cannot export, by design of the demo data.
ORGANIZATION = {"OrganizationId": data.ORGANIZATION_ID, "SourceOrganizationalUnitIds": data.WORKLOADS_OU, "AllowedDBInstanceIdentifiers": ""}


@pytest.fixture
def lake() -> Iterator[EmulatedAccount]:
    with EmulatedAccount(parameters=ORGANIZATION, handler_output=io.StringIO()) as account:
        yield account


def _report(account: EmulatedAccount, key: str = "reports/sources/latest.json") -> dict[str, Any]:
    return json.loads(account.client("s3").get_object(Bucket=account.bucket, Key=key)["Body"].read())


def _exported(result: Any, before: Any = None) -> set[tuple[str, str]]:
    """(account, source) of every export task RDS recorded by the end of ``result`` and not by ``before``."""
    def tasks(run: Any) -> list[tuple[str, str]]:
        return [(t["source_arn"].split(":")[4], t["source_arn"].split(":")[6].split("-lake-")[0]) for t in (run.export_tasks if run else [])]

    earlier, later = Counter(tasks(before)), Counter(tasks(result))
    assert not earlier - later  # RDS's record only grows
    return set(later - earlier)


def _opted_in(accounts: list[str]) -> set[tuple[str, str]]:
    from emulated_account import organization

    return {(account, source.identifier) for account in accounts
            for source in (*organization.clusters_of(account), *organization.db_instances_of(account))
            if data.OPT_IN_TAGS.get(f"{account}:{source.identifier}") == "aurora-lake"}


def test_the_scheduled_fleet_exports_every_opted_in_source_it_discovers_and_onboarding_changes_no_lake_resource(lake: EmulatedAccount) -> None:
    org = lake.organization
    assert org is not None
    before = _lake_state(lake)
    first = lake.run_fleet({"scheduled": True}, timeout=900)
    assert first.status == "SUCCEEDED", (first.error, first.cause)
    lakes_own = {(data.ACCOUNT_ID, name) for name in data.ALLOWED_CLUSTERS}
    assert _exported(first) - lakes_own == _opted_in([ORDERS, BILLING])
    report = _report(lake)
    assert report["accounts_listed"] == 2 and report["accounts_unreachable"] == 0
    assert {(s["account"], s["identifier"]) for s in report["sources"] if s["account"] != data.ACCOUNT_ID} == _opted_in([ORDERS, BILLING])
    assert all("aurora-lake:export = aurora-lake" in s["why"] for s in report["sources"] if s["account"] != data.ACCOUNT_ID)
    # Tagged for another lake: named (escaped) in the notes, never exported.
    assert any(n["account"] == ORDERS and "other-lake" in n["note"] for n in report["notes"])

    # Onboarding: an account joins the OU (the stack set reaches it), a database owner tags a DB instance.
    org.move_account(SANDBOX, data.WORKLOADS_OU)
    lake.client("rds", ORDERS).add_tags_to_resource(ResourceName="arn:aws:rds:us-east-1:111111111111:db:orders-hr-db",
                                                    Tags=[{"Key": "aurora-lake:export", "Value": "aurora-lake"}])
    # Off-boarding: a tag removed, an account moved out of the OU.
    lake.client("rds", BILLING).remove_tags_from_resource(ResourceName="arn:aws:rds:us-east-1:222222222222:cluster:billing-aurora",
                                                          TagKeys=["aurora-lake:export"])
    second = lake.run_fleet({"scheduled": True}, timeout=900)
    assert second.status == "SUCCEEDED", (second.error, second.cause)
    exported = _exported(second, first)
    assert (SANDBOX, "sandbox-aurora") in exported and (ORDERS, "orders-hr-db") in exported
    assert (BILLING, "billing-aurora") not in exported
    org.move_account(BILLING, data.SANDBOX_OU)
    third = lake.run_fleet({"scheduled": True}, timeout=900)
    assert not [source for source in _exported(third, second) if source[0] == BILLING]
    assert BILLING not in {s["account"] for s in _report(lake)["sources"]}
    assert _lake_state(lake) == before  # no lake stack change: policies, roles, environments byte-identical


def test_report_only_writes_the_sources_report_and_exports_nothing(lake: EmulatedAccount) -> None:
    result = lake.run_fleet({"report_only": True})
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.export_tasks == [] and lake.export_tasks() == []
    report = _report(lake)
    assert report["fleet_execution"] and report["source_count"] >= len(_opted_in([ORDERS, BILLING]))
    listed = lake.client("s3").list_objects_v2(Bucket=lake.bucket, Prefix="reports/sources/")["Contents"]
    assert len(listed) == 2  # latest.json and its dated copy


def test_accounts_the_stack_set_has_not_reached_are_reported_and_never_fail_the_others() -> None:
    # The whole organization (no OUs): the sandbox and management accounts are listed, but the stack
    # set (Workloads only) never deployed the access role there.
    with EmulatedAccount(parameters={"OrganizationId": data.ORGANIZATION_ID}, handler_output=io.StringIO()) as lake:
        result = lake.run_fleet({"report_only": True})
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        report = _report(lake)
    unreachable = {entry["account"]: entry["why"] for entry in report["unreachable"]}
    assert set(unreachable) == {SANDBOX, data.MANAGEMENT_ACCOUNT_ID}
    assert all("cannot assume its access role" in why for why in unreachable.values())
    assert {s["account"] for s in report["sources"]} >= {ORDERS, BILLING}
