"""An organization in the emulated account: one scheduled fleet run over every account, onboarding, policy sizes.

The same code as `make bench ARGS=--organization` (docs/performance.md, "An organization at
scale"), at a size that costs seconds: more accounts than FleetMaxConcurrency and accounts with
more sources than it, so both the per-account limit and the accounts side by side are exercised.
`organization_result` raises when the run does not export exactly the due sources or onboarding
changes the lake stack; the properties are asserted here again.
"""

from __future__ import annotations

import pytest

from emulated_account import bench, organization


def test_most_at_once_counts_only_overlapping_intervals() -> None:
    assert bench.most_at_once([(0, 10), (10, 20), (5, 15)]) == 2
    assert bench.most_at_once([(0, 10)] * 6) == 6
    assert bench.most_at_once([]) == 0


def test_the_scale_layout_has_the_shape_it_claims() -> None:
    layout = organization.scale_layout(200, 1000)
    lake = "aurora-lake"
    members = {a for a, ou in layout.placement.items() if ou != "ou-ab12-44444444"}
    assert len(members) == 204 and len({ou for ou in layout.placement.values()}) >= 6
    due = [(a, s.identifier) for a, specs in [*layout.clusters.items(), *layout.db_instances.items()] for s in specs
           if layout.tag(a, s.identifier) == lake and layout.tag(a, s.identifier, "aurora-lake:schedule") != "manual"
           and a not in layout.joining and layout.placement.get(a) != "ou-ab12-33333333"]
    assert len(due) == 1000
    assert sum(len(v) for v in layout.db_instances.values()) > 300 and sum(len(v) for v in layout.clusters.values()) > 300


@pytest.mark.slow
def test_a_scheduled_run_over_an_organization_keeps_every_limit_and_onboarding_changes_nothing() -> None:
    # 3 accounts of 2, 4 and 6 sources (the last one above FleetMaxConcurrency); the policies' sizes
    # against a 2-account organization are compared by the benchmark (the same template and parameters).
    result = bench.organization_result(accounts=3, sources=12, compare_with_two_accounts=False)
    concurrency = result["concurrency"]
    assert result["sources_exported"] == 12 + 2  # and the lake's own two clusters
    assert concurrency["most_in_one_account"] <= result["fleet_max_concurrency"] == 5
    # Accounts ran side by side (14 exports of 900 simulated seconds, all started within minutes).
    assert concurrency["most_in_all_accounts"] > 5 and concurrency["accounts_exporting"] == 4, concurrency
    assert result["accounts_unreachable"] >= 5  # the Sandbox accounts and the management account
    assert result["onboarding_changed_nothing"] is True and len(result["onboarded"]) == 2
    assert all(size < result["state_limit"] for size in result["largest_state_bytes"].values())
    assert result["email_bytes"] < result["email_limit"] // 10 and result["email_lines"] < 200
    for name, limit in result["policy_limits"].items():
        assert result["policy_bytes"][name] < limit
