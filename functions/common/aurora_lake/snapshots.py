"""Creating, finding, checking and deleting the snapshot to export.

The snapshot is an Aurora cluster's or an RDS DB instance's: every RDS call goes
through the job's source kind (aurora_lake.sources), so these steps read the same
for both. Every operation is safe to repeat: the snapshot's name is derived from the
source and the execution, so a retried or redriven step finds the snapshot it
created before instead of creating a second one.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from aurora_lake import clock, exports, opt_in, polling, settings, sources
from aurora_lake.errors import (
    NoAutomatedSnapshot,
    SnapshotDeadlineExceeded,
    SnapshotFailed,
    SnapshotSourceMismatch,
    SourceNotOptedIn,
    error_code,
)

AVAILABLE = "available"
# Statuses from which a snapshot can still become available.
PENDING_STATUSES = frozenset({"creating", "copying"})

Job = dict[str, Any]
Snapshot = dict[str, Any]


def _record(source: sources.Source, description: sources.SnapshotDescription, created_by_this_run: bool, progress: polling.Progress) -> Snapshot:
    return {
        "snapshot_arn": description.arn,
        "snapshot_identifier": description.identifier,
        "source_kind": source.kind,
        "source_identifier": description.source_identifier,
        # Read by the direct cluster export, the notifications and the fleet: kept for clusters.
        "source_cluster_identifier": description.source_identifier if source.kind == sources.CLUSTER.kind else None,
        "engine": description.engine,
        "snapshot_type": description.snapshot_type,
        "status": description.status,
        "percent_progress": description.percent_progress,
        "created_by_this_run": created_by_this_run,
        "progress": progress.to_dict(),
    }


def create_or_adopt(job: Job) -> Snapshot:
    """Create this execution's manual snapshot, or adopt it if it already exists."""
    source = sources.of_job(job)
    source_identifier = str(_job_source_identifier(job))
    identifier = job["snapshot_identifier"]
    # Refused before anything is created (a DB instance of an engine RDS cannot export).
    source.refuse_unexportable_source(source_identifier)
    try:
        description = source.create_snapshot(source_identifier, identifier, opt_in.snapshot_tags(job))
    except ClientError as error:
        if error_code(error) not in source.snapshot_exists_codes:
            # Named after the AWS error (a busy source's InvalidDBClusterStateFault or
            # InvalidDBInstanceState is retried by name in the state machine), with what to do.
            raise exports.reported(error) from error
        existing = source.describe_snapshot(identifier)
        if existing is None:
            raise
        if existing.source_identifier != source_identifier:
            raise SnapshotSourceMismatch(
                f"Snapshot {identifier} already exists but was taken of {source.label} "
                f"{existing.source_identifier}, not {source_identifier}. Delete or rename it, then start a new execution."
            ) from error
        description = existing
    now = clock.now()
    # A new snapshot's PercentProgress counts from its creation, so its rate is known from the first check.
    snapshot = _record(source, description, True, polling.Progress(started_at=now, last_zero_at=now, counts_from_start=True))
    snapshot["wait_seconds"] = polling.first_wait(polling.FIRST_SNAPSHOT_WAIT_SECONDS)
    return snapshot


def newest_automated(source: sources.Source, source_identifier: str) -> sources.SnapshotDescription:
    """The most recent available automated snapshot of the source."""
    newest = source.newest_automated_snapshot(source_identifier)
    if newest is None:
        raise NoAutomatedSnapshot(
            f"{source.label.capitalize()} {source_identifier} has no available automated snapshot. Check its backup retention, "
            f"or start the execution with {source.input_key} alone to take a new snapshot."
        )
    return newest


def _source_of_job(job: Job) -> sources.Source:
    # A snapshot named by ARN is of the kind its ARN says, whatever an older job recorded.
    if job.get("snapshot_arn"):
        return sources.of_snapshot_arn(job["snapshot_arn"], job.get("source_account"))
    return sources.of_job(job)


def check(job: Job, previous: Snapshot | None, deadline_seconds: float) -> Snapshot:
    """Describe the snapshot to export, check its source is allowed and exportable, and decide how long to wait."""
    source = _source_of_job(job)
    created_by_this_run = bool(previous and previous.get("created_by_this_run"))
    if previous and previous.get("snapshot_identifier"):
        description = source.describe_snapshot(previous["snapshot_identifier"])
    elif job["snapshot_mode"] == "latest_automated":
        description = newest_automated(source, str(_job_source_identifier(job)))
    else:
        description = source.describe_snapshot(job["snapshot_identifier"])
    wanted = (previous or {}).get("snapshot_identifier") or job.get("snapshot_identifier")
    if description is None:
        # Named after what RDS answered, as when StartExportTask finds no snapshot.
        raise exports.reported(source.snapshot_not_found(str(wanted)))
    if source.account is not None:
        # A source account's snapshot is exported only when it carries the opt-in tag itself (IAM
        # checks the same on StartExportTask); checked again here, whatever validation saw.
        refusal = opt_in.snapshot_refusal(source, description, settings.lake_stack_name())
        if refusal:
            raise SourceNotOptedIn(refusal[0].upper() + refusal[1:] + ". Nothing was exported.")
    elif not source.is_allowed(description.source_identifier, source.allowed()):
        raise source.not_allowed_error(
            f"Snapshot {description.identifier} was taken of {source.label} {description.source_identifier}{source.where}, "
            f"which this deployment is not allowed to export. Add it to {source.allowed_parameter} to allow it."
        )
    source.refuse_unexportable_snapshot(description)
    now = clock.now()
    progress = polling.Progress.from_dict((previous or {}).get("progress"), started_at=now)
    status = description.status
    if status == AVAILABLE:
        snapshot = _record(source, description, created_by_this_run, progress)
        snapshot["wait_seconds"] = 0
        return snapshot
    if status not in PENDING_STATUSES:
        raise SnapshotFailed(f"Snapshot {description.identifier} is {status}; it cannot be exported.")
    if now - progress.started_at > deadline_seconds:
        raise SnapshotDeadlineExceeded(
            f"Snapshot {description.identifier} is still {status} after "
            f"{int(now - progress.started_at)} s (limit {int(deadline_seconds)} s, parameter SnapshotTimeoutSeconds)."
        )
    wait, progress = polling.next_wait(progress, now, float(description.percent_progress))
    snapshot = _record(source, description, created_by_this_run, progress)
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
    if not sources.of_job(job).delete_snapshot(identifier):
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
    source = sources.of_job(job)
    try:
        description = source.describe_snapshot(identifier)
        if description is None:
            return {"deleted": False, "snapshot_identifier": identifier, "reason": "no snapshot was created"}
        if description.source_identifier != _job_source_identifier(job):
            return {"deleted": False, "snapshot_identifier": identifier, "reason": f"kept: it belongs to another {source.label}"}
        export_task = (export or {}).get("export_task_identifier")
        if export_task and _export_running(export_task, source.account):
            return {
                "deleted": False,
                "snapshot_identifier": identifier,
                "reason": f"kept: export task {export_task} is still reading it; delete it once the export has ended",
            }
        if not job.get("delete_snapshot_after_export", True):
            return {"deleted": False, "snapshot_identifier": identifier, "reason": "kept: delete_snapshot_after_export is false"}
        source.delete_snapshot(identifier)
    except ClientError as error:
        return {
            "deleted": False,
            "snapshot_identifier": identifier,
            "reason": f"could not be deleted ({error_code(error)}); delete it by hand",
        }
    return {"deleted": True, "snapshot_identifier": identifier, "reason": "deleted after the failure"}


def _job_source_identifier(job: Job) -> str | None:
    return job.get("source_identifier") or job.get("cluster_identifier")


def _export_running(export_task_identifier: str, account: str | None = None) -> bool:
    """Ask RDS, not the state data: the step that failed may not have recorded the last status."""
    task = exports.describe(export_task_identifier, account)
    return task is not None and str(task.get("Status", "")).upper() in exports.RUNNING_STATUSES
