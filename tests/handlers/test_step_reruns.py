"""Every step run twice with the same state (a Lambda retry, a redrive) creates nothing twice.

Step Functions re-runs a step with the state it had: after a Retry, and after a
redrive, which restarts the execution at the step that failed. Calling each
handler twice with the same event is what either looks like to the handler.
Also here: one running export per cluster, and permanent AWS errors that carry
what to do in their message (the execution's Cause).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto.rds.models import rds_backends

from aurora_lake import errors

from .conftest import ACCOUNT, REGION, job, load_handler

create = load_handler("create_snapshot")
check_snapshot = load_handler("check_snapshot")
start = load_handler("start_export")
check_export = load_handler("check_export")
cleanup = load_handler("delete_snapshot")


@pytest.fixture
def deployment(aurora_cluster: str, environment: Any) -> None:
    boto3.client("s3").create_bucket(Bucket="export-bucket")
    key_arn = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    environment(EXPORT_BUCKET="export-bucket", EXPORT_KMS_KEY_ARN=key_arn, EXPORT_ROLE_ARN=f"arn:aws:iam::{ACCOUNT}:role/export")


def manual_snapshots() -> list[str]:
    found = boto3.client("rds").describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    return sorted(snapshot["DBClusterSnapshotIdentifier"] for snapshot in found)


def export_ids() -> list[str]:
    return sorted(task["ExportTaskIdentifier"] for task in boto3.client("rds").describe_export_tasks()["ExportTasks"])


def set_status(identifier: str, status: str) -> None:
    rds_backends[ACCOUNT][REGION].export_tasks[identifier].status = status


def twice(handler: Any, event: dict[str, Any], context: object) -> dict[str, Any]:
    first = handler.lambda_handler(event, context)
    second = handler.lambda_handler(event, context)
    # The answer describes the same resource both times (progress bookkeeping may differ).
    for key in ("snapshot_arn", "export_task_identifier", "status", "deleted", "snapshot_identifier"):
        assert first.get(key) == second.get(key), key
    return second


def test_a_whole_run_with_every_step_run_twice_creates_one_snapshot_and_one_export(deployment: None, context: object) -> None:
    state: dict[str, Any] = {"job": job()}
    state["snapshot"] = twice(create, state, context)
    state["snapshot"] = twice(check_snapshot, state, context)
    assert state["snapshot"]["status"] == "available"
    state["export"] = twice(start, state, context)
    set_status(state["export"]["export_task_identifier"], "COMPLETE")
    state["export"] = twice(check_export, state, context)
    assert state["export"]["status"] == "COMPLETE"
    assert manual_snapshots() == ["demo-aurora-cluster-lake-abc123"]
    assert export_ids() == [state["export"]["export_task_identifier"]]
    first_cleanup = cleanup.lambda_handler(state, context)
    second_cleanup = cleanup.lambda_handler(state, context)
    assert first_cleanup["deleted"] is True and second_cleanup["deleted"] is True
    assert second_cleanup["reason"] == "already deleted"
    assert manual_snapshots() == []


def test_cleanup_after_a_failure_run_twice_deletes_once_and_then_finds_nothing(deployment: None, context: object) -> None:
    state: dict[str, Any] = {"job": job()}
    state["snapshot"] = create.lambda_handler(state, context)
    state["failure"] = {"step": "StartExport", "error": "KMSKeyNotAccessibleFault", "cause": "x"}
    first = cleanup.lambda_handler(state, context)
    second = cleanup.lambda_handler(state, context)
    assert (first["deleted"], second["deleted"]) == (True, False)
    assert second["reason"] == "no snapshot was created"
    assert manual_snapshots() == []


def _second_snapshot(context: object) -> dict[str, Any]:
    other = job(execution_name="run-2", snapshot_identifier="demo-aurora-cluster-lake-def456")
    return {"job": other, "snapshot": create.lambda_handler({"job": other}, context)}


def test_a_second_export_of_the_same_cluster_waits_while_the_first_runs(deployment: None, context: object) -> None:
    first: dict[str, Any] = {"job": job()}
    first["snapshot"] = create.lambda_handler(first, context)
    first["export"] = start.lambda_handler(first, context)
    set_status(first["export"]["export_task_identifier"], "IN_PROGRESS")
    second = _second_snapshot(context)
    with pytest.raises(errors.ClusterExportInProgress, match=first["export"]["export_task_identifier"]):
        start.lambda_handler(second, context)
    assert export_ids() == [first["export"]["export_task_identifier"]]
    # The first run's own retry is not blocked by its own export: it adopts it.
    assert start.lambda_handler(first, context)["export_task_identifier"] == first["export"]["export_task_identifier"]
    # Once the first export has ended, the second starts.
    set_status(first["export"]["export_task_identifier"], "COMPLETE")
    started = start.lambda_handler(second, context)
    assert sorted(export_ids()) == sorted([first["export"]["export_task_identifier"], started["export_task_identifier"]])


def test_an_export_of_another_cluster_does_not_block(deployment: None, context: object) -> None:
    rds = boto3.client("rds")
    rds.create_db_cluster(
        DBClusterIdentifier="demo-mysql-cluster", Engine="aurora-mysql", MasterUsername="admin_user", MasterUserPassword="not-a-real-password-1"
    )
    other = job(cluster_identifier="demo-mysql-cluster", snapshot_identifier="demo-mysql-cluster-lake-abc123")
    other_state = {"job": other, "snapshot": create.lambda_handler({"job": other}, context)}
    running = start.lambda_handler(other_state, context)
    set_status(running["export_task_identifier"], "STARTING")
    state: dict[str, Any] = {"job": job()}
    state["snapshot"] = create.lambda_handler(state, context)
    started = start.lambda_handler(state, context)
    assert len(export_ids()) == 2 and started["export_task_identifier"] in export_ids()


def test_a_running_export_whose_snapshot_is_gone_still_blocks_by_its_name(deployment: None, context: object) -> None:
    first: dict[str, Any] = {"job": job()}
    first["snapshot"] = create.lambda_handler(first, context)
    first["export"] = start.lambda_handler(first, context)
    set_status(first["export"]["export_task_identifier"], "IN_PROGRESS")
    second = _second_snapshot(context)
    boto3.client("rds").delete_db_cluster_snapshot(DBClusterSnapshotIdentifier="demo-aurora-cluster-lake-abc123")
    with pytest.raises(errors.ClusterExportInProgress):
        start.lambda_handler(second, context)


def test_a_permanent_aws_error_keeps_its_name_and_says_what_to_do(aws: None, context: object) -> None:
    with pytest.raises(errors.AwsServiceError) as raised:
        create.lambda_handler({"job": job(cluster_identifier="no-such-cluster")}, context)
    assert type(raised.value).__name__ == "DBClusterNotFoundFault"
    assert "What to do: The cluster does not exist" in str(raised.value)
