"""Discovery in an organization: its ACTIVE accounts (every page, OUs at any depth), each account's
opted-in sources and schedules from their tags, unreachable accounts reported, hostile values bounded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from aurora_lake import inventory, naming
from aurora_lake.inventory import KnownSource

LAKE = "aurora-lake"
ORG = "o-a1b2c3d4e5"


class Pages:
    """A client whose paginators yield the given pages (AWS Organizations pages by 20 at most)."""

    def __init__(self, by_call: dict[tuple[str, str | None], list[dict[str, Any]]], organization: str = ORG) -> None:
        self.by_call, self.organization, self.calls = by_call, organization, []

    def describe_organization(self) -> dict[str, Any]:
        return {"Organization": {"Id": self.organization}}

    def get_paginator(self, operation: str) -> Any:
        outer = self

        class Paginator:
            def paginate(self, **kwargs: Any) -> list[dict[str, Any]]:
                outer.calls.append((operation, kwargs.get("ParentId")))
                return outer.by_call.get((operation, kwargs.get("ParentId")), [])

        return Paginator()


def _accounts(*ids: str, status: str = "ACTIVE") -> list[dict[str, Any]]:
    return [{"Id": i, "Status": status} for i in ids]


def test_every_page_of_the_organization_s_active_accounts_is_listed() -> None:
    pages = [{"Accounts": _accounts(*(f"1000000000{n:02d}" for n in range(20)))},
             {"Accounts": _accounts("200000000000") + [{"Id": "300000000000", "Status": "SUSPENDED"},
                                                         {"Id": "400000000000", "State": "CLOSED", "Status": "SUSPENDED"}]}]
    found = inventory.organization_accounts(Pages({("list_accounts", None): pages}), ORG, [])
    assert len(found) == 21 and "200000000000" in found and "300000000000" not in found and "400000000000" not in found


def test_organizational_units_are_followed_at_any_depth() -> None:
    client = Pages({
        ("list_accounts_for_parent", "ou-a-1"): [{"Accounts": _accounts("111111111111")}],
        ("list_organizational_units_for_parent", "ou-a-1"): [{"OrganizationalUnits": [{"Id": "ou-a-2"}]}, {"OrganizationalUnits": [{"Id": "ou-a-3"}]}],
        ("list_accounts_for_parent", "ou-a-2"): [{"Accounts": _accounts("222222222222")}],
        ("list_accounts_for_parent", "ou-a-3"): [{"Accounts": []}, {"Accounts": _accounts("333333333333")}],
    })
    assert inventory.organization_accounts(client, ORG, ["ou-a-1"]) == {"111111111111": "ou-a-1", "222222222222": "ou-a-2", "333333333333": "ou-a-3"}
    assert ("list_accounts", None) not in client.calls


def test_a_lake_in_another_organization_fails_loudly_naming_both() -> None:
    from aurora_lake.errors import FleetSourcesNotListed

    with pytest.raises(FleetSourcesNotListed, match="o-zzzzzzzzzz.*o-a1b2c3d4e5"):
        inventory.organization_accounts(Pages({}, organization="o-zzzzzzzzzz"), ORG, [])


class FakeRds:
    def __init__(self, clusters: list[dict[str, Any]], instances: list[dict[str, Any]], error: ClientError | None = None) -> None:
        self.pages = {"describe_db_clusters": [{"DBClusters": clusters[:1]}, {"DBClusters": clusters[1:]}],
                      "describe_db_instances": [{"DBInstances": instances}]}
        self.error = error

    def get_paginator(self, operation: str) -> Any:
        if self.error is not None:
            raise self.error
        pages = self.pages[operation]

        class Paginator:
            def paginate(self, **kwargs: Any) -> list[dict[str, Any]]:
                return pages

        return Paginator()


def _tags(**tags: str) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _with_rds(monkeypatch: pytest.MonkeyPatch, rds: FakeRds) -> None:
    from aurora_lake.sources.base import Source

    monkeypatch.setattr(Source, "rds_client", lambda self: rds)


def test_an_account_s_opted_in_sources_and_schedules_come_from_their_tags(monkeypatch: pytest.MonkeyPatch) -> None:
    export, schedule = naming.OPT_IN_TAG, naming.SCHEDULE_TAG
    clusters = [
        {"DBClusterIdentifier": "Orders-Aurora", "TagList": [{"Key": export, "Value": LAKE}]},
        {"DBClusterIdentifier": "weekly-aurora", "TagList": [{"Key": export, "Value": LAKE}, {"Key": schedule, "Value": "weekly"}]},
        {"DBClusterIdentifier": "other-lake", "TagList": [{"Key": export, "Value": "Aurora-Lake"}]},  # exact comparison
        {"DBClusterIdentifier": "untagged", "TagList": []},
    ]
    instances = [
        {"DBInstanceIdentifier": "crm-db", "TagList": [{"Key": export, "Value": LAKE}, {"Key": schedule, "Value": "manual"}]},
        # An Aurora cluster's member instance: exported as its cluster, never on its own.
        {"DBInstanceIdentifier": "orders-aurora-1", "DBClusterIdentifier": "orders-aurora", "TagList": [{"Key": export, "Value": LAKE}]},
    ]
    _with_rds(monkeypatch, FakeRds(clusters, instances))
    found = inventory.discover_account("111111111111", LAKE)
    assert found.unreachable is None
    assert found.sources == [KnownSource("cluster", "orders-aurora"), KnownSource("cluster", "weekly-aurora", "weekly"),
                             KnownSource("instance", "crm-db", "manual")]
    assert found.notes == [{"kind": "cluster", "identifier": '"other-lake"', "note": f'{export} is "Aurora-Lake", another lake\'s'}]


def test_hostile_tag_values_are_escaped_and_bounded_and_never_exported(monkeypatch: pytest.MonkeyPatch) -> None:
    export, schedule = naming.OPT_IN_TAG, naming.SCHEDULE_TAG
    hostile = "daily\n\x1b[31mFAKE LINE\u202e" + "x" * 100_000
    clusters = [
        {"DBClusterIdentifier": "orders-aurora", "TagList": [{"Key": export, "Value": LAKE}, {"Key": schedule, "Value": hostile}]},
        {"DBClusterIdentifier": "bad\nname" + "y" * 10_000, "TagList": [{"Key": export, "Value": LAKE}]},
        {"DBClusterIdentifier": "evil", "TagList": [{"Key": export, "Value": hostile}]},
    ]
    _with_rds(monkeypatch, FakeRds(clusters, []))
    found = inventory.discover_account("111111111111", LAKE)
    # The unknown schedule is reported and treated as daily; the bad name is never a source.
    assert found.sources == [KnownSource("cluster", "orders-aurora", "daily")]
    report = inventory.sources_report(inventory.Discovery("123456789012", LAKE, ORG, [], {"111111111111": "organization"}, [], None, [found]),
                                      0.0, "scheduled-1")
    text = json.dumps(report)
    assert len(text) < 4_000
    for note in report["notes"]:
        assert len(note["identifier"]) < 100 and len(note["note"]) < 300
        assert not any(ord(ch) < 32 or ch == "\u202e" for ch in note["identifier"] + note["note"])
    assert report["note_count"] == 3 and report["source_count"] == 1


def test_an_account_that_cannot_be_reached_is_reported_never_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized to perform sts:AssumeRole"}}, "AssumeRole")
    _with_rds(monkeypatch, FakeRds([], [], error=denied))
    found = inventory.discover_account("444444444444", LAKE)
    assert found.sources == [] and found.unreachable is not None and found.unreachable.startswith("AccessDenied: the lake cannot assume")


def test_schedules_decide_what_a_run_exports_and_when_a_source_is_stale() -> None:
    now, day = 1_000_000_000.0, 86_400.0
    weekly, manual = KnownSource("cluster", "w", "weekly"), KnownSource("cluster", "m", "manual")
    assert inventory.due(KnownSource("cluster", "d"), now - 60, now)
    assert not inventory.due(manual, None, now)
    assert inventory.due(weekly, None, now) and inventory.due(weekly, now - 7 * day + 3600, now)
    assert not inventory.due(weekly, now - 6 * day + 3600, now)
    assert inventory.stale_after_hours("daily", 26) == 26 and inventory.stale_after_hours("weekly", 26) == 170
    assert inventory.stale_after_hours("manual", 26) is None


def test_an_account_with_more_sources_than_one_run_takes_is_named_in_the_sources_report() -> None:
    crowded = inventory.AccountDiscovery("111111111111", [KnownSource("cluster", f"c-{i:03d}") for i in range(inventory.MAX_SOURCES_PER_ACCOUNT + 1)])
    weekly = inventory.AccountDiscovery("222222222222", [KnownSource("cluster", f"w-{i:03d}", inventory.WEEKLY) for i in range(150)]
                                        + [KnownSource("instance", f"d-{i:03d}") for i in range(100)])
    calm = inventory.AccountDiscovery("333333333333", [KnownSource("cluster", f"m-{i:03d}", inventory.MANUAL) for i in range(300)])
    found = inventory.Discovery("123456789012", LAKE, ORG, [], {a.account: "organization" for a in (crowded, weekly, calm)}, [], None,
                                [crowded, weekly, calm])
    # report_only: every source not manual may be due.
    report = inventory.sources_report(found, 0.0, "report-1")
    assert [entry["account"] for entry in report["over_limit"]] == ["111111111111", "222222222222"]
    assert "FleetSourcesNotListed" in report["over_limit"][0]["why"] and "201 sources" in report["over_limit"][0]["why"]
    # A scheduled run: what is due now (the weekly sources exported last week are not).
    report = inventory.sources_report(found, 0.0, "scheduled-1", due={"111111111111": 201, "222222222222": 100})
    assert [entry["account"] for entry in report["over_limit"]] == ["111111111111"]
    assert inventory.sources_report(found, 0.0, "scheduled-2", due={"111111111111": 200})["over_limit"] == []
