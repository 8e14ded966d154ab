"""Fixtures shared by every test folder, and session-wide reporting."""

from __future__ import annotations

from typing import Any

import pytest

from tools.sam_translate import REPO_ROOT, load_template, translate


@pytest.fixture(scope="session")
def sam() -> dict[str, Any]:
    """template.yaml as written (SAM resources, CloudFormation tags kept)."""
    return load_template(REPO_ROOT / "template.yaml")


@pytest.fixture(scope="session")
def cfn() -> dict[str, Any]:
    """template.yaml after the SAM transform, as CloudFormation deploys it."""
    return translate(REPO_ROOT / "template.yaml")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first (in collection order): under xdist each worker takes the next test when
    it is free, so the light ones fill in at the end and both workers finish together, instead of
    one starting a long test while the other has nothing left. Every xdist worker sorts alike."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say how many fault-matrix cases ran (reports carry them from xdist workers too)."""
    cases = executions = 0
    for report in terminalreporter.stats.get("passed", []):
        for name, value in getattr(report, "user_properties", []):
            if name == "fault_cases":
                cases += int(value)
                executions += 1
    if executions:
        terminalreporter.write_line(f"fault matrix: {cases} (operation, error) cases passed in {executions} executions")
    # Measurements a test reports with record_property("report", text), e.g. the 5,000-table run.
    for report in terminalreporter.stats.get("passed", []):
        for name, value in getattr(report, "user_properties", []):
            if name == "report":
                terminalreporter.write_line(str(value))


@pytest.fixture(scope="session", autouse=True)
def _process_caches() -> Any:
    """botocore's service models and moto's ASL syntax trees read once per process (emulated_account.caches)."""
    from emulated_account import caches

    with caches.installed():
        yield
