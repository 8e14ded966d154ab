"""A run that reaches its own deadline still cleans up and notifies, before the execution's timeout."""

from __future__ import annotations

import io
import json

from aurora_lake import deadline
from emulated_account import runner


def test_a_demo_run_past_its_deadline_fails_cleans_up_and_notifies_before_the_execution_times_out() -> None:
    # The largest timeouts the template allows, a slow snapshot and an export slower than the rest
    # of the 48 hours: no single timeout fires, the run's own deadline does.
    out = io.StringIO()
    code = runner.main(
        ["--snapshot-duration", "80000", "--export-duration", "100000", "--json",
         "--parameter", "SnapshotTimeoutSeconds=86400", "--parameter", "ExportTimeoutSeconds=158400"],
        stdout=out,
    )
    text = out.getvalue()
    summary = json.loads(text.strip().splitlines()[-1])
    assert code == 1
    assert (summary["status"], summary["error"]) == ("FAILED", "WorkflowDeadlineReached")
    assert "Subject: [aurora-lake] FAILED demo-aurora-cluster CheckExport: WorkflowDeadlineReached" in text
    # Within the hour left: cleaned up and notified before Step Functions' 48 hours.
    simulated = float(text.split("Simulated time: ", 1)[1].split("(", 1)[1].split(" s)", 1)[0])
    assert deadline.DEFAULT_SECONDS <= simulated < deadline.EXECUTION_TIMEOUT_SECONDS
    states = [line.split("] ", 1)[1] for line in text.splitlines() if line.startswith("[+")]
    assert states[-3:] == ["CleanUpAfterFailure", "NotifyFailure", "ExportWorkflowFailed"]
    # The export still reads the snapshot: kept and named, with the command to cancel the export.
    assert "still reading it" in text and "cancel-export-task" in text


def test_a_run_within_its_deadline_is_not_cut_short() -> None:
    out = io.StringIO()
    code = runner.main(["--snapshot-duration", "3600", "--export-duration", "30000", "--json"], stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert code == 0 and summary["status"] == "SUCCEEDED", summary
