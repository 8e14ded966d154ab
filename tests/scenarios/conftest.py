"""Scenario tests: the real state machine and handlers in the emulated account."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from emulated_account import EmulatedAccount, ExecutionResult


@pytest.fixture
def run_export() -> Callable[..., ExecutionResult]:
    """Run one execution in a fresh account: run_export(input, **account options)."""

    def run(execution_input: Any, name: str | None = None, **options: Any) -> ExecutionResult:
        with EmulatedAccount(**options) as account:
            return account.run(execution_input, name=name)

    return run


@contextmanager
def account(**options: Any) -> Iterator[EmulatedAccount]:
    with EmulatedAccount(**options) as emulated:
        yield emulated


def manual_snapshots(emulated: EmulatedAccount) -> list[str]:
    found = emulated.client("rds").describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    return sorted(snapshot["DBClusterSnapshotIdentifier"] for snapshot in found)


def polls(result: ExecutionResult, state: str) -> int:
    return result.states.count(state)
