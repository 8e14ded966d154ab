"""Scenario tests: the real state machine and handlers in the emulated account."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from emulated_account import EmulatedAccount, ExecutionResult

@contextmanager
def account(**options: Any) -> Iterator[EmulatedAccount]:
    with EmulatedAccount(**options) as emulated:
        yield emulated

def manual_snapshots(emulated: EmulatedAccount) -> list[str]:
    found = emulated.client("rds").describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    return sorted(snapshot["DBClusterSnapshotIdentifier"] for snapshot in found)

def polls(result: ExecutionResult, state: str) -> int:
    return result.states.count(state)
