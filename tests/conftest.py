"""Session-wide reporting."""

from __future__ import annotations

from typing import Any


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
