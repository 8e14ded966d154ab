"""Every error a step raises on purpose has advice in the notification and a runbook row."""

from __future__ import annotations

from pathlib import Path

from aurora_lake import errors, notifications, runbook

RUNBOOK_PAGE = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()


def workflow_errors() -> list[str]:
    names = []
    pending = list(errors.WorkflowError.__subclasses__())
    while pending:
        error = pending.pop()
        pending.extend(error.__subclasses__())
        if error is not errors.AwsServiceError and errors.AwsServiceError not in error.__mro__:
            names.append(error.__name__)
    return sorted(names)


def test_every_workflow_error_has_advice_in_the_notification() -> None:
    assert len(workflow_errors()) >= 15
    assert [name for name in workflow_errors() if name not in runbook.RUNBOOK] == []


def test_every_error_with_advice_is_in_the_runbook_page() -> None:
    table = RUNBOOK_PAGE[RUNBOOK_PAGE.index("## Failure notifications") :]
    assert [name for name in runbook.RUNBOOK if name != "States.Timeout" and f"`{name}`" not in table] == []


def test_aws_errors_with_or_without_the_fault_suffix_get_their_advice() -> None:
    message = notifications.failure_message({"failure": {"step": "StartExport", "error": "KMSKeyNotAccessible", "cause": "x"}})
    assert "key policy" in message["message"]
