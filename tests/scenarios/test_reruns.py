"""Re-runs, concurrent runs, quotas and deadlines, with the real state machine.

* The same input started twice, one after the other or at once, exports a given
  snapshot once: the export task's name is derived from the snapshot and the
  export settings, and a second run adopts the task of the first.
* Two executions for the same cluster, each taking its own snapshot, never run
  two exports of the cluster at once: the second StartExport waits (a declared
  Retry on ClusterExportInProgress) until the first export has ended.
* With 5 exports already running, StartExport waits for a free slot
  (ExportTaskLimitReachedFault, retried) instead of failing; so does the same code injected.
* moto has no RedriveExecution. A redrive restarts the execution at the failed
  step with the state that step had, so it is simulated here by running that
  step's handler again with its recorded input.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from emulated_account import EmulatedAccount, ExecutionResult
from emulated_account.faults import Fault

INPUT = {"cluster_identifier": "demo-aurora-cluster"}


def new_account(**options: Any) -> EmulatedAccount:
    return EmulatedAccount(handler_output=io.StringIO(), **options)


def failed_errors(result: ExecutionResult, state: str | None = None) -> list[str]:
    """Error names of the failed Lambda invocations (each one retried or caught)."""
    errors, current = [], None
    for event in result.history:
        if event["type"].endswith("StateEntered"):
            current = event["stateEnteredEventDetails"]["name"]
        if event["type"] == "LambdaFunctionFailed" and (state is None or current == state):
            errors.append(event["lambdaFunctionFailedEventDetails"].get("error"))
    return errors


def last_input(result: ExecutionResult, state: str) -> dict[str, Any]:
    entered = [e for e in result.history if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == state]
    return json.loads(entered[-1]["stateEnteredEventDetails"]["input"])


def _snapshot_exists(account: EmulatedAccount, identifier: str) -> bool:
    found = account.client("rds").describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    return identifier in {snapshot["DBClusterSnapshotIdentifier"] for snapshot in found}


def overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["started_at"] < b["ends_at"] and b["started_at"] < a["ends_at"]


@pytest.mark.slow
def test_the_same_snapshot_started_twice_is_exported_once() -> None:
    snapshot_arn = "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:demo-aurora-cluster-2026-11-01-03-10"
    with new_account() as account:
        first = account.run({"snapshot_arn": snapshot_arn})
        second = account.run({"snapshot_arn": snapshot_arn})
        # And two at once, for another export of it (another prefix is another export).
        other = {"snapshot_arn": snapshot_arn, "s3_prefix": "exports/again_1/"}
        arns = [account.start_execution(other), account.start_execution(other)]
        together = [account.wait(arn) for arn in arns]
        tasks = account.export_tasks()
        notifications = account.notifications()
    assert [r.status for r in (first, second, *together)] == ["SUCCEEDED"] * 4, [(r.error, r.cause) for r in (first, second, *together)]
    assert [task["s3_prefix"].rstrip("/") for task in tasks] == ["exports", "exports/again_1"]
    assert {task["source_arn"] for task in tasks} == {snapshot_arn}
    assert first.snapshots_created == []
    assert len(notifications) == 4


def test_the_same_name_and_input_is_one_execution() -> None:
    with new_account() as account:
        arn = account.start_execution(INPUT, name="nightly-2026-11-02")
        again = account.start_execution(INPUT, name="nightly-2026-11-02")
        result = account.wait(arn)
    assert again == arn
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert len(result.snapshots_created) == 1 and len(result.export_tasks) == 1


def test_two_executions_for_one_cluster_never_export_it_at_once() -> None:
    with new_account() as account:
        arns = [account.start_execution(INPUT), account.start_execution(INPUT)]
        results = [account.wait(arn) for arn in arns]
        tasks = account.export_tasks()
    assert [r.status for r in results] == ["SUCCEEDED", "SUCCEEDED"], [(r.error, r.cause) for r in results]
    # Each execution took and exported its own snapshot ...
    assert len(results[-1].snapshots_created) == 2 and len(tasks) == 2
    assert tasks[0]["source_arn"] != tasks[1]["source_arn"]
    # ... one after the other: the second StartExport waited for the first export to end.
    assert not overlaps(tasks[0], tasks[1])
    waited = [failed_errors(r, "StartExport") for r in results]
    assert sorted(len(w) > 0 for w in waited) == [False, True]
    assert set(sum(waited, [])) == {"ClusterExportInProgress"}


def test_full_export_slots_are_waited_for_instead_of_failing() -> None:
    with new_account() as account:
        rds = account.client("rds")
        start = account.functions["StartExportFunction"].environment
        # Five exports of other clusters' snapshots already run (the account's limit).
        for n in range(5):
            cluster = "demo-mysql-cluster" if n % 2 else "forbidden-cluster"
            arn = account.rds.add_snapshot(cluster, f"{cluster}-busy-{n}")
            rds.start_export_task(
                ExportTaskIdentifier=f"someone-else-{n}", SourceArn=arn, S3BucketName=start["EXPORT_BUCKET"],
                IamRoleArn=start["EXPORT_ROLE_ARN"], KmsKeyId=start["EXPORT_KMS_KEY_ARN"],
            )
        result = account.run(INPUT)
        tasks = account.export_tasks()
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert set(failed_errors(result, "StartExport")) == {"ExportTaskLimitReachedFault"}
    ours = tasks[-1]
    assert ours["source_arn"].endswith(result.snapshots_created[-1])
    # It started only once the others had ended: never a sixth export at once.
    assert all(not overlaps(ours, other) for other in tasks[:-1])


def test_a_redriven_step_resumes_without_duplicates() -> None:
    with new_account() as account:
        failed = _run_failing_at_check_export(account)
        tasks_before, snapshots_before = account.export_tasks(), list(account.rds.snapshots_created)
        # The redrive: the failed step, then the step before it, again with the state they had.
        check_state = last_input(failed, "CheckExport")
        start_state = last_input(failed, "StartExport")
        account.clock.advance(3600)
        error, payload = account.runtime.run(account.functions["CheckExportFunction"], check_state)
        start_error, start_payload = account.runtime.run(account.functions["StartExportFunction"], start_state)
        tasks_after, snapshots_after = account.export_tasks(), list(account.rds.snapshots_created)
    assert (failed.status, failed.error) == ("FAILED", "InternalFailure")
    assert (error, start_error) == (None, None)
    assert json.loads(payload)["status"] == "COMPLETE"
    assert json.loads(start_payload)["export_task_identifier"] == tasks_before[0]["id"]
    assert [t["id"] for t in tasks_after] == [t["id"] for t in tasks_before] and len(tasks_after) == 1
    assert snapshots_after == snapshots_before


def _run_failing_at_check_export(account: EmulatedAccount) -> ExecutionResult:
    """Start a run, and once its export has started make every export lookup fail."""
    original_start = account.rds.start_export_task

    def start_then_break(backend: Any, kwargs: dict[str, Any]) -> Any:
        task = original_start(backend, kwargs)
        account.fault_plan.faults[:] = [Fault.parse("rds:DescribeExportTasks:InternalFailure:99")]
        return task

    account.rds.start_export_task = start_then_break  # type: ignore[method-assign]
    try:
        return account.run(INPUT)
    finally:
        account.rds.start_export_task = original_start  # type: ignore[method-assign]
        account.fault_plan.faults[:] = []


# -- deadlines -------------------------------------------------------------------------------


def test_stuck_snapshot_and_stuck_export_end_in_a_clear_failure() -> None:
    parameters = {"SnapshotTimeoutSeconds": "600", "ExportTimeoutSeconds": "1800"}
    with EmulatedAccount(parameters=parameters, snapshot_seconds=7200, handler_output=io.StringIO()) as emulated:
        stuck_snapshot = emulated.run(INPUT)
        [snapshot] = emulated.rds.snapshots_created
        snapshot_message = emulated.notifications()[-1]["message"]
        snapshot_left = _snapshot_exists(emulated, snapshot)

        emulated.rds.snapshot_seconds = 60
        emulated.rds.behaviour.duration_seconds = 6 * 3600
        stuck_export = emulated.run(INPUT)
        export_message = emulated.notifications()[-1]["message"]
        [_, snapshot2] = emulated.rds.snapshots_created
        export_task = emulated.export_tasks()[-1]
    assert (stuck_snapshot.status, stuck_snapshot.error) == ("FAILED", "SnapshotDeadlineExceeded")
    assert "SnapshotTimeoutSeconds" in (stuck_snapshot.cause or "") and "SnapshotTimeoutSeconds" in snapshot_message
    assert 600 <= stuck_snapshot.simulated_seconds < 7200
    assert not snapshot_left
    assert (stuck_export.status, stuck_export.error) == ("FAILED", "ExportDeadlineExceeded")
    assert 1800 <= stuck_export.simulated_seconds < 6 * 3600
    assert "cancel-export-task" in (stuck_export.cause or "")
    # The export still reads the snapshot, so it is kept and named, never silently orphaned.
    assert export_task["status"] in ("STARTING", "IN_PROGRESS")
    assert f"Snapshot:     {snapshot2}" in export_message and "still reading it" in export_message


def test_the_export_limit_met_three_times_is_waited_out_with_one_export() -> None:
    with new_account(faults=["rds:StartExportTask:ExportTaskLimitReachedFault:3"]) as account:
        result = account.run(INPUT)
        tasks = account.export_tasks()
        injected = list(account.fault_plan.injected)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert [code for _, _, code, _ in injected] == ["ExportTaskLimitReachedFault"] * 3
    assert failed_errors(result, "StartExport") == ["ExportTaskLimitReachedFault"] * 3
    assert len(tasks) == 1 and tasks[0]["status"] == "COMPLETE"
