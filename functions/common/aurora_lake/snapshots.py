"""Creating, finding, checking and deleting the Aurora cluster snapshot.

Every operation is safe to repeat: the snapshot's name is derived from the
cluster and the execution, so a retried or redriven step finds the snapshot it
created before instead of creating a second one.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from aurora_lake import clock, exports, naming, polling
from aurora_lake.clients import client
from aurora_lake.errors import (
    ClusterNotAllowed,
    NoAutomatedSnapshot,
    SnapshotDeadlineExceeded,
    SnapshotFailed,
    SnapshotSourceMismatch,
    error_code,
)

AVAILABLE = "available"
AWS_BACKUP_SNAPSHOT_TYPE = "awsbackup"
# Statuses from which a snapshot can still become available.
PENDING_STATUSES = frozenset({"creating", "copying"})

Job = dict[str, Any]
Snapshot = dict[str, Any]


def describe(identifier: str) -> dict[str, Any] | None:
    """The snapshot's description, or None when it does not exist."""
    # RDS finds an automated snapshot by name only when its type is given too.
    if identifier.startswith(naming.AUTOMATED_SNAPSHOT_PREFIX):
        return _describe(identifier, {"SnapshotType": "automated"})
    found = _describe(identifier, {})
    if found is None and identifier.startswith(naming.AWS_BACKUP_SNAPSHOT_PREFIX):
        # UNCONFIRMED: whether RDS lists an AWS Backup recovery point without its type, and whether
        # "awsbackup" (a DescribeDBSnapshots type) is accepted here. If neither finds it, the run
        # fails naming the snapshot; if the type is refused, it fails with RDS's own error.
        found = _describe(identifier, {"SnapshotType": AWS_BACKUP_SNAPSHOT_TYPE})
    return found


def _describe(identifier: str, extra: dict[str, str]) -> dict[str, Any] | None:
    try:
        found = client("rds").describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=identifier, **extra)
    except ClientError as error:
        if error_code(error) in {"DBClusterSnapshotNotFoundFault", "DBClusterSnapshotNotFound"}:
            return None
        raise
    snapshots = found.get("DBClusterSnapshots", [])
    return snapshots[0] if snapshots else None


def _record(description: dict[str, Any], created_by_this_run: bool, progress: polling.Progress) -> Snapshot:
    return {
        "snapshot_arn": description["DBClusterSnapshotArn"],
        "snapshot_identifier": description["DBClusterSnapshotIdentifier"],
        "source_cluster_identifier": description.get("DBClusterIdentifier"),
        "engine": description.get("Engine"),
        "snapshot_type": description.get("SnapshotType"),
        "status": str(description.get("Status", "")).lower(),
        "percent_progress": int(description.get("PercentProgress") or 0),
        "created_by_this_run": created_by_this_run,
        "progress": progress.to_dict(),
    }


def create_or_adopt(job: Job) -> Snapshot:
    """Create this execution's manual snapshot, or adopt it if it already exists."""
    cluster = job["cluster_identifier"]
    identifier = job["snapshot_identifier"]
    try:
        created = client("rds").create_db_cluster_snapshot(
            DBClusterIdentifier=cluster,
            DBClusterSnapshotIdentifier=identifier,
            Tags=[
                {"Key": "aurora-lake:execution", "Value": job["execution_name"]},
                {"Key": "aurora-lake:purpose", "Value": "export-to-data-lake"},
            ],
        )
        description = created["DBClusterSnapshot"]
    except ClientError as error:
        if error_code(error) not in {"DBClusterSnapshotAlreadyExistsFault", "DBClusterSnapshotAlreadyExists"}:
            # Named after the AWS error (a busy cluster's InvalidDBClusterStateFault is retried by
            # name in the state machine), with what to do in the cause.
            raise exports.reported(error) from error
        existing = describe(identifier)
        if existing is None:
            raise
        if existing.get("DBClusterIdentifier") != cluster:
            raise SnapshotSourceMismatch(
                f"Snapshot {identifier} already exists but was taken of cluster "
                f"{existing.get('DBClusterIdentifier')}, not {cluster}. Delete or rename it, then start a new execution."
            ) from error
        description = existing
    now = clock.now()
    # A new snapshot's PercentProgress counts from its creation, so its rate is known from the first check.
    snapshot = _record(description, True, polling.Progress(started_at=now, last_zero_at=now, counts_from_start=True))
    snapshot["wait_seconds"] = polling.first_wait(polling.FIRST_SNAPSHOT_WAIT_SECONDS)
    return snapshot


def newest_automated(cluster_identifier: str) -> dict[str, Any]:
    """The most recent available automated snapshot of the cluster."""
    paginator = client("rds").get_paginator("describe_db_cluster_snapshots")
    candidates = [
        snapshot
        for page in paginator.paginate(DBClusterIdentifier=cluster_identifier, SnapshotType="automated")
        for snapshot in page.get("DBClusterSnapshots", [])
        if str(snapshot.get("Status", "")).lower() == AVAILABLE
    ]
    if not candidates:
        raise NoAutomatedSnapshot(
            f"Cluster {cluster_identifier} has no available automated snapshot. Check its backup retention, "
            "or start the execution with cluster_identifier alone to take a new snapshot."
        )
    return max(candidates, key=lambda snapshot: snapshot["SnapshotCreateTime"])


def check(job: Job, previous: Snapshot | None, deadline_seconds: float, allowed_clusters: frozenset[str] | None) -> Snapshot:
    """Describe the snapshot to export and decide how long to wait for it."""
    created_by_this_run = bool(previous and previous.get("created_by_this_run"))
    if previous and previous.get("snapshot_identifier"):
        description = describe(previous["snapshot_identifier"])
    elif job["snapshot_mode"] == "latest_automated":
        description = newest_automated(job["cluster_identifier"])
    else:
        description = describe(job["snapshot_identifier"])
    wanted = (previous or {}).get("snapshot_identifier") or job.get("snapshot_identifier")
    if description is None:
        # Named after what RDS answered, as when StartExportTask finds no snapshot.
        raise exports.reported(
            ClientError(
                {"Error": {"Code": "DBClusterSnapshotNotFoundFault", "Message": f"Snapshot {wanted} does not exist (it may have been deleted)."}},
                "DescribeDBClusterSnapshots",
            )
        )
    source_cluster = description.get("DBClusterIdentifier")
    if allowed_clusters is not None and source_cluster not in allowed_clusters:
        raise ClusterNotAllowed(
            f"Snapshot {description['DBClusterSnapshotIdentifier']} was taken of cluster {source_cluster}, "
            "which this deployment is not allowed to export. Add it to AllowedClusterIdentifiers to allow it."
        )
    now = clock.now()
    progress = polling.Progress.from_dict((previous or {}).get("progress"), started_at=now)
    status = str(description.get("Status", "")).lower()
    if status == AVAILABLE:
        snapshot = _record(description, created_by_this_run, progress)
        snapshot["wait_seconds"] = 0
        return snapshot
    if status not in PENDING_STATUSES:
        raise SnapshotFailed(f"Snapshot {description['DBClusterSnapshotIdentifier']} is {status}; it cannot be exported.")
    if now - progress.started_at > deadline_seconds:
        raise SnapshotDeadlineExceeded(
            f"Snapshot {description['DBClusterSnapshotIdentifier']} is still {status} after "
            f"{int(now - progress.started_at)} s (limit {int(deadline_seconds)} s, parameter SnapshotTimeoutSeconds)."
        )
    wait, progress = polling.next_wait(progress, now, float(description.get("PercentProgress") or 0))
    snapshot = _record(description, created_by_this_run, progress)
    snapshot["wait_seconds"] = wait
    return snapshot


def delete_if_created(job: Job, snapshot: Snapshot) -> dict[str, Any]:
    """Delete the snapshot this execution created, unless the input keeps it."""
    identifier = snapshot.get("snapshot_identifier")
    if job.get("snapshot_mode") == "cluster":
        return {"deleted": False, "snapshot_identifier": None, "reason": "a direct cluster export uses no snapshot"}
    if not snapshot.get("created_by_this_run"):
        return {"deleted": False, "snapshot_identifier": identifier, "reason": "the snapshot was not created by this execution"}
    if not job.get("delete_snapshot_after_export", True):
        return {"deleted": False, "snapshot_identifier": identifier, "reason": "kept: delete_snapshot_after_export is false"}
    try:
        client("rds").delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=identifier)
    except ClientError as error:
        if error_code(error) not in {"DBClusterSnapshotNotFoundFault", "DBClusterSnapshotNotFound"}:
            raise
        return {"deleted": True, "snapshot_identifier": identifier, "reason": "already deleted"}
    return {"deleted": True, "snapshot_identifier": identifier, "reason": "deleted after a successful export"}


def clean_up_after_failure(job: Job, snapshot: Snapshot | None, export: dict[str, Any] | None) -> dict[str, Any]:
    """After a failure, delete the snapshot this execution created, or say why it stays.

    The snapshot is looked up by its deterministic name rather than taken from
    the state data: a step can fail after RDS created the snapshot but before
    the state recorded it. It is kept while an export task may still read it.
    This never raises: whatever happens is reported in the notification.
    """
    if job.get("snapshot_mode") != "create":
        return {"deleted": False, "snapshot_identifier": None, "reason": "this execution creates no snapshot"}
    identifier = job["snapshot_identifier"]
    try:
        description = describe(identifier)
        if description is None:
            return {"deleted": False, "snapshot_identifier": identifier, "reason": "no snapshot was created"}
        if description.get("DBClusterIdentifier") != job.get("cluster_identifier"):
            return {"deleted": False, "snapshot_identifier": identifier, "reason": "kept: it belongs to another cluster"}
        export_task = (export or {}).get("export_task_identifier")
        if export_task and _export_running(export_task):
            return {
                "deleted": False,
                "snapshot_identifier": identifier,
                "reason": f"kept: export task {export_task} is still reading it; delete it once the export has ended",
            }
        if not job.get("delete_snapshot_after_export", True):
            return {"deleted": False, "snapshot_identifier": identifier, "reason": "kept: delete_snapshot_after_export is false"}
        client("rds").delete_db_cluster_snapshot(DBClusterSnapshotIdentifier=identifier)
    except ClientError as error:
        return {
            "deleted": False,
            "snapshot_identifier": identifier,
            "reason": f"could not be deleted ({error_code(error)}); delete it by hand",
        }
    return {"deleted": True, "snapshot_identifier": identifier, "reason": "deleted after the failure"}


def _export_running(export_task_identifier: str) -> bool:
    """Ask RDS, not the state data: the step that failed may not have recorded the last status."""
    task = exports.describe(export_task_identifier)
    return task is not None and str(task.get("Status", "")).upper() in exports.RUNNING_STATUSES
