"""The fleet at an organization's size: its largest state and its e-mail stay within AWS's limits.

`python -m tools.fleet_sizes` runs the fleet definition's data flow with every value at its limit
(1,000 sources over 200 accounts; one account with the most sources a run takes, each failing with
the longest cause); the figures are in docs/performance.md.
"""

from __future__ import annotations

import json

from tools import fleet_sizes


def test_every_fleet_state_and_the_e_mail_stay_within_step_functions_and_sns_limits() -> None:
    measured = fleet_sizes.measure(accounts=200, sources=1000)
    largest = measured["largest_state_bytes"]
    assert all(size < fleet_sizes.STATE_LIMIT for size in largest.values()), largest
    # The parent's state never holds a source: a few kilobytes whatever the organization's size.
    parent = {name: size for name, size in largest.items() if name.startswith("parent:") and "input" not in name}
    assert max(parent.values()) < 8_000, parent
    # The e-mail of 1,000 sources is not a 1,000-line e-mail, and stays far within SNS's 256 KB.
    assert measured["email_bytes"] < fleet_sizes.SNS_LIMIT // 4 and measured["email_lines"] < 400, measured
    assert measured["fail_cause_bytes"] < 4_000


def test_the_parent_state_does_not_grow_with_the_organization() -> None:
    # Past the few sources its cause names (bounded), nothing in the parent's state depends on the count.
    small, large = fleet_sizes.measure(accounts=20, sources=60), fleet_sizes.measure(accounts=1000, sources=3000)
    for name in ("parent: ValidateFleetInput (state)", "parent: ExportEachAccount (state; items and results in S3)",
                 "parent: NotifyFleetSummary (state)"):
        assert large["largest_state_bytes"][name] - small["largest_state_bytes"][name] < 200, name
    assert large["email_bytes"] < fleet_sizes.SNS_LIMIT // 4


def test_every_task_and_map_state_of_the_definition_is_measured() -> None:
    definition = json.loads(fleet_sizes.DEFINITION.read_text())
    names = set(fleet_sizes.measure(accounts=2, sources=4)["largest_state_bytes"])

    def working(states: dict) -> set[str]:
        found = set()
        for name, state in states.items():
            if state["Type"] in ("Task", "Map"):
                found.add(name)
            if "ItemProcessor" in state:
                found |= working(state["ItemProcessor"]["States"])
        return found

    # The failure paths that rebuild their state from the context (bounded by design) aside.
    expected = working(definition["States"]) - {"NotifyFleetInputInvalid", "RecordSourceFailure"}
    assert all(any(f"{state} " in name or name.endswith(state) for name in names) for state in expected), (expected, names)
