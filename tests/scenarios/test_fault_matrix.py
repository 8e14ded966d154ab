"""Transient AWS faults on every operation the workflow performs: each run still succeeds.

The matrix is every (operation, error) pair below. In ``make test`` the pairs are
packed into few executions: one run faults each operation of a lane once, with a
different error per operation, and the errors rotate from run to run, so that
after ``len(TRANSIENT_CODES)`` runs every operation of the lane has met every
error. The two lanes keep the failures that land on one step (CreateAthenaTables
reads S3 and calls Athena and Glue) within its declared Retry budget.

``FAULT_MATRIX=full make test`` runs one execution per pair instead (about two
minutes): when a pair fails there, that pair alone is to blame.

The Retry declarations themselves are checked statically too: a fault test
passing because code retried where the ASL did not would hide the retry from
the console.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aurora_lake.naming import DRIFT_LOG_TABLE
from emulated_account import EmulatedAccount, ExecutionResult
from emulated_account.faults import Fault

ASL = json.loads((Path(__file__).resolve().parents[2] / "statemachine" / "export_to_data_lake.asl.json").read_text())

# The errors of the issue: throttling and 5xx-style, by the names the SDKs give them.
TRANSIENT_CODES = (
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
    "ServiceUnavailable",
    "InternalFailure",
)
# Service-specific names of the same conditions (SNS, Athena, Glue); declared, checked statically.
SERVICE_TRANSIENT_CODES = ("Throttled", "InternalServerException", "InternalServiceException", "ServiceUnavailableException")
# What Step Functions reports when Lambda itself fails an Invoke.
LAMBDA_CODES = (
    "Lambda.TooManyRequestsException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
)

# Every AWS operation of the workflow, split in two lanes (see the module docstring).
LANE_A = (
    ("rds", "CreateDBClusterSnapshot"),
    ("rds", "DescribeDBClusterSnapshots"),
    ("rds", "StartExportTask"),
    ("rds", "DescribeExportTasks"),
    ("rds", "DeleteDBClusterSnapshot"),
    ("sns", "Publish"),
    ("s3", "ListObjectsV2"),
    ("athena", "StartQueryExecution"),
    ("glue", "UpdateTable"),
)
LANE_B = (
    ("s3", "GetObject"),
    ("s3", "PutObject"),
    ("athena", "BatchGetQueryExecution"),
    ("glue", "CreateTable"),
)
OPERATIONS = LANE_A + LANE_B
INPUT = {"cluster_identifier": "demo-aurora-cluster"}


def all_pairs() -> set[tuple[str, str, str]]:
    pairs = {(service, operation, code) for service, operation in OPERATIONS for code in TRANSIENT_CODES}
    return pairs | {("lambda", "Invoke", code) for code in LAMBDA_CODES}


def packed_runs() -> list[list[str]]:
    """Fault specs per execution: every pair of ``all_pairs`` exactly once."""
    runs = []
    for lane_index, lane in enumerate((LANE_A, LANE_B)):
        for shift in range(len(TRANSIENT_CODES)):
            specs = [f"{s}:{op}:{TRANSIENT_CODES[(i + shift) % len(TRANSIENT_CODES)]}:1" for i, (s, op) in enumerate(lane)]
            # The state machine's Invoke: one Lambda error per run of the first lane until all ran.
            if lane_index == 0 and shift < len(LAMBDA_CODES):
                specs.append(f"lambda:Invoke:{LAMBDA_CODES[shift]}:1")
            runs.append(specs)
    return runs


def full_runs() -> list[list[str]]:
    return [[f"{s}:{op}:{code}:1"] for s, op, code in sorted(all_pairs())]


FULL = os.environ.get("FAULT_MATRIX", "").lower() == "full"
RUNS = full_runs() if FULL else packed_runs()


def test_packed_runs_cover_every_pair_once() -> None:
    covered = [tuple(spec.rsplit(":", 1)[0].split(":", 2)) for run in packed_runs() for spec in run]
    assert sorted(covered) == sorted(all_pairs())
    assert len(covered) == len(set(covered)) == len(OPERATIONS) * len(TRANSIENT_CODES) + len(LAMBDA_CODES)


@pytest.fixture(scope="module")
def account() -> Iterator[EmulatedAccount]:
    """One account for the module (per worker): executions in one account are much cheaper than new accounts."""
    with EmulatedAccount(handler_output=io.StringIO()) as emulated:
        # Later runs re-point the latest tables this run creates (UpdateTable); see run_faulted.
        primed = emulated.run(INPUT)
        assert primed.status == "SUCCEEDED", primed.cause
        yield emulated


def run_faulted(account: EmulatedAccount, specs: list[str]) -> tuple[ExecutionResult, list[Fault], dict[str, int]]:
    """Run one execution with ``specs``; returns the result, the faults and what this run created."""
    # Both Glue paths in every run: one table is dropped, so it is created again (CreateTable) and
    # Athena's canary counts it (a new table), while the others get a snapshot (UpdateTable).
    glue = account.client("glue")
    database = account.functions["CreateAthenaTablesFunction"].environment["GLUE_DATABASE"]
    latest = sorted(t["Name"] for t in glue.get_tables(DatabaseName=database)["TableList"]
                    if not t["Name"].startswith("_") and t["Name"] != DRIFT_LOG_TABLE)
    assert len(latest) >= 2, latest
    glue.delete_table(DatabaseName=database, Name=latest[0])
    account.fault_plan.faults[:] = [Fault.parse(spec) for spec in specs]
    before = (len(account.rds.snapshots_created), len(account.rds.export_task_ids), len(account.notifications()))
    result = account.run(INPUT)
    created = {
        "snapshots": len(account.rds.snapshots_created) - before[0],
        "exports": len(account.rds.export_task_ids) - before[1],
        "notifications": len(account.notifications()) - before[2],
    }
    return result, list(account.fault_plan.faults), created


@pytest.mark.parametrize("specs", RUNS, ids=[f"run{i}" for i in range(len(RUNS))])
def test_transient_faults_are_retried_and_the_run_succeeds_once(
    specs: list[str], account: EmulatedAccount, record_property: Any
) -> None:
    result, faults, created = run_faulted(account, specs)
    assert result.status == "SUCCEEDED", (specs, result.error, result.cause)
    # Every fault was met: an operation the run never called would prove nothing.
    assert [f.spec for f in faults if f.used != f.count] == []
    assert created == {"snapshots": 1, "exports": 1, "notifications": 1}, specs
    assert result.export_tasks[-1]["status"] == "COMPLETE"
    assert result.states[-1] == "NotifySuccess"
    record_property("fault_cases", len(specs))


def _task_states() -> dict[str, dict[str, Any]]:
    return {name: state for name, state in ASL["States"].items() if state["Type"] == "Task"}


def _retried(state: dict[str, Any], error: str) -> dict[str, Any] | None:
    for retrier in state.get("Retry", []):
        if error in retrier["ErrorEquals"]:
            return retrier
    return None


def _function_tasks() -> dict[str, dict[str, Any]]:
    return {name: state for name, state in _task_states().items() if state["Resource"].endswith("FunctionArn}")}


@pytest.mark.parametrize("state_name", sorted(_function_tasks()))
def test_every_task_declares_a_retry_for_every_transient_error(state_name: str) -> None:
    state = _function_tasks()[state_name]
    missing = [code for code in TRANSIENT_CODES + SERVICE_TRANSIENT_CODES + LAMBDA_CODES if _retried(state, code) is None]
    assert missing == []
    for code in TRANSIENT_CODES + LAMBDA_CODES:
        retrier = _retried(state, code)
        assert retrier is not None
        # Retries back off (an immediate retry of a throttled call is throttled again) and are bounded.
        assert retrier.get("BackoffRate", 1) > 1 and 1 <= retrier["MaxAttempts"] <= 10
        assert "States.ALL" not in retrier["ErrorEquals"]


def test_the_export_wait_retries_a_refused_token_but_never_its_own_timeout() -> None:
    # The only task that is not a function: an SDK integration, whose errors are named S3.<Code>.
    assert set(_task_states()) - set(_function_tasks()) == {"WaitForExport"}
    wait = _task_states()["WaitForExport"]
    [retrier] = wait["Retry"]
    # States.TaskFailed matches every error but States.Timeout, which ends each wait by design.
    assert retrier["ErrorEquals"] == ["States.TaskFailed"]
    assert retrier["BackoffRate"] > 1 and 1 <= retrier["MaxAttempts"] <= 10
    timeout, refused = wait["Catch"]
    assert (timeout["ErrorEquals"], timeout["Next"], timeout["ResultPath"]) == (["States.Timeout"], "CheckExport", None)
    assert (refused["ErrorEquals"], refused["Next"]) == (["States.ALL"], "WaitForExportWithoutEvent")
    fallback = ASL["States"]["WaitForExportWithoutEvent"]
    assert (fallback["Type"], fallback["SecondsPath"], fallback["Next"]) == ("Wait", wait["TimeoutSecondsPath"], "CheckExport")


def test_busy_cluster_and_full_export_slots_are_waited_out_with_a_bound() -> None:
    states = _task_states()
    busy = _retried(states["CreateSnapshot"], "InvalidDBClusterStateFault")
    slots = _retried(states["StartExport"], "ExportTaskLimitReachedFault")
    same_cluster = _retried(states["StartExport"], "ClusterExportInProgress")
    for retrier in (busy, slots, same_cluster):
        assert retrier is not None and retrier["IntervalSeconds"] >= 60 and retrier["BackoffRate"] > 1
        assert "MaxDelaySeconds" in retrier
    # The slot wait (attempts x the capped delay) stays well inside the execution's own timeout.
    total = sum(min(slots["IntervalSeconds"] * slots["BackoffRate"] ** n, slots["MaxDelaySeconds"]) for n in range(slots["MaxAttempts"]))
    assert 6 * 3600 <= total <= ASL["TimeoutSeconds"] / 3


# -- permanent faults: reported, named, actionable, and nothing left behind silently ----------

PERMANENT = [
    # (fault, error the run ends with, words of the advice in the cause)
    ("rds:CreateDBClusterSnapshot:DBClusterNotFoundFault:1", "DBClusterNotFoundFault", "Check cluster_identifier"),
    ("rds:CreateDBClusterSnapshot:SnapshotQuotaExceeded:1", "SnapshotQuotaExceeded", "Delete old manual snapshots"),
    ("rds:CreateDBClusterSnapshot:AccessDenied:1", "AccessDenied", "a service control policy (SCP) of your organization explicitly denies"),
    ("rds:StartExportTask:KMSKeyNotAccessibleFault:1", "KMSKeyNotAccessibleFault", "key policy"),
    ("rds:StartExportTask:IamRoleNotFoundFault:1", "IamRoleNotFound", "Redeploy the stack"),
    ("rds:StartExportTask:IamRoleMissingPermissionsFault:1", "IamRoleMissingPermissions", "lacks S3 or KMS permissions"),
    ("rds:StartExportTask:InvalidS3BucketFault:1", "InvalidS3BucketFault", "bucket is missing"),
    ("rds:StartExportTask:InvalidExportOnlyFault:1", "InvalidExportOnly", "Fix export_only"),
    ("rds:StartExportTask:DBClusterSnapshotNotFoundFault:1", "DBClusterSnapshotNotFoundFault", "Check snapshot_arn"),
    ("rds:StartExportTask:AccessDenied:1", "AccessDenied", "was refused to role aurora-lake-StartExportRole-"),
]


def _snapshot_exists(account: EmulatedAccount, identifier: str) -> bool:
    found = account.client("rds").describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    return identifier in {snapshot["DBClusterSnapshotIdentifier"] for snapshot in found}


def _failed_notification(account: EmulatedAccount, before: int) -> dict[str, Any]:
    [notification] = account.notifications()[before:]
    assert notification["subject"].startswith("[aurora-lake] FAILED")
    return notification


def test_permanent_faults_fail_once_named_with_advice_and_clean_up(account: EmulatedAccount, record_property: Any) -> None:
    for spec, error, advice in PERMANENT:
        snapshots_before, exports_before, notes_before = len(account.rds.snapshots_created), len(account.rds.export_task_ids), len(account.notifications())
        account.fault_plan.faults[:] = [Fault.parse(spec)]
        result = account.run(INPUT)
        assert (result.status, result.error) == ("FAILED", error), (spec, result.cause)
        assert "What to do: " in (result.cause or "") and advice in (result.cause or ""), spec
        notification = _failed_notification(account, notes_before)
        assert error in notification["message"] and advice in notification["message"]
        assert len(account.rds.export_task_ids) == exports_before, spec
        # A snapshot this run created is gone again, and the e-mail says what happened, nothing else.
        created = account.rds.snapshots_created[snapshots_before:]
        for identifier in created:
            assert not _snapshot_exists(account, identifier), spec
        facts = [line for line in notification["message"].splitlines() if line.startswith(("Snapshot:", "Export task:"))]
        snapshot_fact = f"Snapshot:     {created[0]} (created by this execution): deleted after the failure" if created else (
            "Snapshot:     none: this execution created no snapshot")
        assert facts == [snapshot_fact, "Export task:  none was started"], (spec, facts)
    record_property("fault_cases", len(PERMANENT))


def test_missing_snapshot_fails_with_the_aws_error_and_creates_nothing(account: EmulatedAccount) -> None:
    account.fault_plan.faults[:] = []
    notes_before, exports_before = len(account.notifications()), len(account.rds.export_task_ids)
    result = account.run({"snapshot_arn": f"arn:aws:rds:{account.region}:{account.account_id}:cluster-snapshot:demo-aurora-cluster-gone"})
    assert (result.status, result.error) == ("FAILED", "DBClusterSnapshotNotFoundFault")
    assert "demo-aurora-cluster-gone does not exist" in (result.cause or "") and "What to do: " in (result.cause or "")
    _failed_notification(account, notes_before)
    assert len(account.rds.export_task_ids) == exports_before


def test_snapshot_that_cannot_be_deleted_is_named_in_the_notification(account: EmulatedAccount) -> None:
    account.fault_plan.faults[:] = [
        Fault.parse("rds:StartExportTask:KMSKeyNotAccessibleFault:1"),
        Fault.parse("rds:DeleteDBClusterSnapshot:InvalidDBClusterSnapshotStateFault:1"),
    ]
    snapshots_before, notes_before = len(account.rds.snapshots_created), len(account.notifications())
    result = account.run(INPUT)
    [snapshot] = account.rds.snapshots_created[snapshots_before:]
    assert (result.status, result.error) == ("FAILED", "KMSKeyNotAccessibleFault")
    assert _snapshot_exists(account, snapshot)
    message = _failed_notification(account, notes_before)["message"]
    assert f"Snapshot:     {snapshot}" in message and "delete it by hand" in message
    account.client("rds").delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=snapshot)


def test_busy_cluster_is_waited_out_with_back_off(account: EmulatedAccount) -> None:
    account.fault_plan.faults[:] = [Fault.parse("rds:CreateDBClusterSnapshot:InvalidDBClusterStateFault:3")]
    snapshots_before = len(account.rds.snapshots_created)
    result = account.run(INPUT)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert len(account.rds.snapshots_created) - snapshots_before == 1
    # 60 s, then 90 s, then 135 s of back-off before the snapshot could be taken.
    first_check = next(entry for entry in result.state_entries if entry.name == "WaitForSnapshot")
    assert first_check.simulated_seconds >= 60 + 90 + 135


def test_cluster_busy_past_the_retries_fails_with_a_notification(account: EmulatedAccount) -> None:
    account.fault_plan.faults[:] = [Fault.parse("rds:CreateDBClusterSnapshot:InvalidDBClusterStateFault:99")]
    notes_before, snapshots_before = len(account.notifications()), len(account.rds.snapshots_created)
    result = account.run(INPUT)
    assert (result.status, result.error) == ("FAILED", "InvalidDBClusterStateFault")
    assert account.fault_plan.faults[0].used == 9  # the first try and the 8 declared retries
    assert "Start again later" in _failed_notification(account, notes_before)["message"]
    assert len(account.rds.snapshots_created) == snapshots_before


def test_a_failing_notification_does_not_hide_the_original_error(account: EmulatedAccount) -> None:
    account.fault_plan.faults[:] = [
        Fault.parse("rds:StartExportTask:KMSKeyNotAccessibleFault:1"),
        Fault.parse("sns:Publish:Throttling:99"),
    ]
    notes_before = len(account.notifications())
    result = account.run(INPUT)
    assert (result.status, result.error) == ("FAILED", "KMSKeyNotAccessibleFault")
    assert "KMSKeyNotAccessible" in (result.cause or "")
    assert account.notifications()[notes_before:] == []
    assert account.fault_plan.faults[1].used == 7  # NotifyFailure tried once and retried 6 times
    assert result.states[-2:] == ["NotifyFailure", "ExportWorkflowFailed"]

