"""CreateSnapshot, CheckSnapshot and CleanUpSnapshot against moto."""

from __future__ import annotations

import boto3
import pytest
from moto.rds.models import rds_backends

from aurora_lake import errors

from .conftest import job, load_handler

create = load_handler("create_snapshot")
check = load_handler("check_snapshot")
cleanup = load_handler("delete_snapshot")


def snapshot_ids() -> list[str]:
    found = boto3.client("rds").describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    return [snapshot["DBClusterSnapshotIdentifier"] for snapshot in found]


def test_create_snapshot_twice_creates_one_snapshot(aurora_cluster: str, context: object) -> None:
    first = create.lambda_handler({"job": job()}, context)
    second = create.lambda_handler({"job": job()}, context)
    assert snapshot_ids() == ["demo-aurora-cluster-lake-abc123"]
    assert first["snapshot_arn"] == second["snapshot_arn"]
    assert first["created_by_this_run"] is True
    assert first["wait_seconds"] >= 30


def test_snapshot_with_our_name_of_another_cluster_is_an_error(aurora_cluster: str, context: object) -> None:
    rds = boto3.client("rds")
    rds.create_db_cluster(
        DBClusterIdentifier="other-cluster", Engine="aurora-postgresql", MasterUsername="admin_user", MasterUserPassword="not-a-real-password-1"
    )
    rds.create_db_cluster_snapshot(DBClusterIdentifier="other-cluster", DBClusterSnapshotIdentifier="demo-aurora-cluster-lake-abc123")
    with pytest.raises(errors.SnapshotSourceMismatch, match="other-cluster"):
        create.lambda_handler({"job": job()}, context)


def test_missing_cluster_surfaces_the_aws_error_code(aws: None, context: object) -> None:
    with pytest.raises(errors.AwsServiceError) as raised:
        create.lambda_handler({"job": job(cluster_identifier="no-such-cluster")}, context)
    assert type(raised.value).__name__ == "DBClusterNotFoundFault"


def test_check_snapshot_of_created_snapshot_reports_available(aurora_cluster: str, context: object) -> None:
    snapshot = create.lambda_handler({"job": job()}, context)
    checked = check.lambda_handler({"job": job(), "snapshot": snapshot}, context)
    assert checked["status"] == "available"
    assert checked["created_by_this_run"] is True
    assert checked["source_cluster_identifier"] == "demo-aurora-cluster"


def test_check_given_snapshot_that_does_not_exist_fails(aws: None, context: object) -> None:
    given = job(snapshot_mode="existing", cluster_identifier=None, snapshot_identifier="gone",
                snapshot_arn="arn:aws:rds:us-east-1:123456789012:cluster-snapshot:gone")
    with pytest.raises(errors.AwsServiceError, match="does not exist") as raised:
        check.lambda_handler({"job": given}, context)
    # Named after the AWS error, so the runbook's advice for it applies.
    assert type(raised.value).__name__ == "DBClusterSnapshotNotFoundFault"
    assert "What to do: The snapshot does not exist" in str(raised.value)


def test_given_snapshot_of_a_cluster_not_allowed_is_refused(aurora_cluster: str, context: object, environment) -> None:
    boto3.client("rds").create_db_cluster_snapshot(DBClusterIdentifier=aurora_cluster, DBClusterSnapshotIdentifier="manual-1")
    environment(ALLOWED_CLUSTERS="demo-mysql-cluster")
    given = job(snapshot_mode="existing", cluster_identifier=None, snapshot_identifier="manual-1",
                snapshot_arn="arn:aws:rds:us-east-1:123456789012:cluster-snapshot:manual-1")
    with pytest.raises(errors.ClusterNotAllowed, match="demo-aurora-cluster"):
        check.lambda_handler({"job": given}, context)


def test_given_snapshot_is_never_deleted(aurora_cluster: str, context: object) -> None:
    boto3.client("rds").create_db_cluster_snapshot(DBClusterIdentifier=aurora_cluster, DBClusterSnapshotIdentifier="manual-1")
    given = job(snapshot_mode="existing", snapshot_identifier="manual-1")
    snapshot = check.lambda_handler({"job": given}, context)
    result = cleanup.lambda_handler({"job": given, "snapshot": snapshot}, context)
    assert result["deleted"] is False
    assert "manual-1" in snapshot_ids()


def test_cleanup_deletes_created_snapshot_and_is_safe_to_repeat(aurora_cluster: str, context: object) -> None:
    snapshot = create.lambda_handler({"job": job()}, context)
    first = cleanup.lambda_handler({"job": job(), "snapshot": snapshot}, context)
    second = cleanup.lambda_handler({"job": job(), "snapshot": snapshot}, context)
    assert first["deleted"] is True and second["deleted"] is True
    assert snapshot_ids() == []


def test_cleanup_keeps_snapshot_when_asked(aurora_cluster: str, context: object) -> None:
    keep = job(delete_snapshot_after_export=False)
    snapshot = create.lambda_handler({"job": keep}, context)
    result = cleanup.lambda_handler({"job": keep, "snapshot": snapshot}, context)
    assert result["deleted"] is False and "delete_snapshot_after_export" in result["reason"]
    assert snapshot_ids() == ["demo-aurora-cluster-lake-abc123"]


def failure_event(**state: object) -> dict[str, object]:
    return {"failure": {"step": "StartExport", "error": "KMSKeyNotAccessibleFault", "cause": "x"}, **state}


def test_after_a_failure_the_created_snapshot_is_deleted_even_if_the_state_never_recorded_it(
    aurora_cluster: str, context: object
) -> None:
    create.lambda_handler({"job": job()}, context)
    result = cleanup.lambda_handler(failure_event(job=job()), context)
    assert result["deleted"] is True
    assert snapshot_ids() == []


def start_export_of(snapshot: dict[str, object], status: str) -> dict[str, object]:
    boto3.client("rds").start_export_task(
        ExportTaskIdentifier="exp-1", SourceArn=str(snapshot["snapshot_arn"]), S3BucketName="bucket",
        IamRoleArn="arn:aws:iam::123456789012:role/export", KmsKeyId="key",
    )
    rds_backends["123456789012"]["us-east-1"].export_tasks["exp-1"].status = status
    # The state data still says IN_PROGRESS: the step that saw the end failed before recording it.
    return {"status": "IN_PROGRESS", "export_task_identifier": "exp-1"}


def test_after_a_failure_a_snapshot_still_being_exported_is_kept_and_named(aurora_cluster: str, context: object) -> None:
    snapshot = create.lambda_handler({"job": job()}, context)
    export = start_export_of(snapshot, "IN_PROGRESS")
    result = cleanup.lambda_handler(failure_event(job=job(), snapshot=snapshot, export=export), context)
    assert result["deleted"] is False and "exp-1" in result["reason"]
    assert snapshot_ids() == ["demo-aurora-cluster-lake-abc123"]


def test_after_a_failed_export_the_snapshot_is_deleted(aurora_cluster: str, context: object) -> None:
    snapshot = create.lambda_handler({"job": job()}, context)
    export = start_export_of(snapshot, "FAILED")
    result = cleanup.lambda_handler(failure_event(job=job(), snapshot=snapshot, export=export), context)
    assert result["deleted"] is True
    assert snapshot_ids() == []
    # The state said IN_PROGRESS; the clean-up reports what RDS says now.
    assert (result["export_task_identifier"], result["export_task_status"], result["snapshot_created"]) == ("exp-1", "FAILED", True)


def test_after_a_failure_with_no_snapshot_nothing_is_touched(aurora_cluster: str, context: object) -> None:
    result = cleanup.lambda_handler(failure_event(job=job()), context)
    assert result == {
        "deleted": False, "snapshot_identifier": "demo-aurora-cluster-lake-abc123", "reason": "no snapshot was created",
        # The facts the failure notification is built from: no snapshot, no export task.
        "snapshot_created": False, "export_task_identifier": None, "export_task_status": None,
    }


def test_after_a_failure_a_given_snapshot_is_never_deleted(aurora_cluster: str, context: object) -> None:
    boto3.client("rds").create_db_cluster_snapshot(DBClusterIdentifier=aurora_cluster, DBClusterSnapshotIdentifier="manual-1")
    given = job(snapshot_mode="existing", snapshot_identifier="manual-1")
    result = cleanup.lambda_handler(failure_event(job=given), context)
    assert result["deleted"] is False
    assert "manual-1" in snapshot_ids()
