"""Scenario tests: the real state machine and handlers in the emulated account."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from emulated_account import EmulatedAccount, ExecutionResult
from emulated_account.eventbridge_sim import Delivery

@contextmanager
def account(**options: Any) -> Iterator[EmulatedAccount]:
    with EmulatedAccount(**options) as emulated:
        yield emulated

def manual_snapshots(emulated: EmulatedAccount) -> list[str]:
    found = emulated.client("rds").describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    return sorted(snapshot["DBClusterSnapshotIdentifier"] for snapshot in found)

def polls(result: ExecutionResult, state: str) -> int:
    return result.states.count(state)


def routed(emulated: EmulatedAccount, event: dict[str, Any]) -> tuple[list[Delivery], ExecutionResult | None]:
    """``event`` on the lake's bus as EventBridge delivers it (its rules, the trigger router), and
    the export it started, run to its end (None when it started none)."""
    deliveries = emulated.deliver_event(event)
    started = [d.result["execution_arn"] for d in deliveries if isinstance(d.result, dict) and d.result.get("execution_arn")]
    assert len(started) <= 1, started
    return deliveries, (emulated.wait(started[0]) if started else None)


def glue_tables(emulated: EmulatedAccount) -> dict[str, dict[str, Any]]:
    """Every table of the stack's Glue database, by name (all pages)."""
    glue, kwargs = emulated.client("glue"), {"DatabaseName": str(emulated.ref("GlueDatabase"))}
    tables: dict[str, dict[str, Any]] = {}
    while True:
        page = glue.get_tables(**kwargs)
        tables.update((table["Name"], table) for table in page["TableList"])
        if not page.get("NextToken"):
            return tables
        kwargs["NextToken"] = page["NextToken"]
