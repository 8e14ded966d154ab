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


# Steps at or after which an export task of this run may exist, even when the state holds none
# (StartExport can fail after RDS accepted the task: a timeout, a mismatch).
STEPS_AFTER_EXPORT_START = frozenset({"StartExport", "CheckExport", "CreateAthenaTables", "CleanUpSnapshot", "NotifySuccess"})


def clean_up_after_failure(
    job: Job, snapshot: Snapshot | None, export: dict[str, Any] | None, failed_step: str | None = None
) -> dict[str, Any]:
    """After a failure, delete the snapshot this execution created, or say why it stays; and read
    what RDS says now of the run's export task. The failure notification is built from these facts.

    The snapshot is looked up by its deterministic name rather than taken from the state data:
    a step can fail after RDS created the snapshot but before the state recorded it. It is kept
    while an export task may still read it. This never raises: whatever happens is reported.

    Returns ``deleted``, ``snapshot_identifier``, ``reason`` (as before) and the facts:
    ``snapshot_created`` (True: the snapshot exists or existed, taken by this execution; False: it
    was never created; None: this execution takes none, or it could not be read),
    ``export_task_identifier`` and ``export_task_status`` (RDS's status now, upper case, or
    ``NOT_FOUND``; None when no export task was started or it could not be read, then
    ``export_task_error`` names the AWS error).
    """
    source = sources.of_job(job) if job.get("snapshot_mode") == "create" else None
    facts = _export_task_facts(job, snapshot, export, failed_step)
    if source is None:
        return {"deleted": False, "snapshot_identifier": None, "reason": "this execution creates no snapshot", "snapshot_created": None, **facts}
    identifier = job["snapshot_identifier"]
    kept = {"deleted": False, "snapshot_identifier": identifier, **facts}
    created: bool | None = None  # not known until RDS has answered
    try:
        description = source.describe_snapshot(identifier)
        if description is None:
            return {**kept, "reason": "no snapshot was created", "snapshot_created": False}
        if description.source_identifier != _job_source_identifier(job):
            return {**kept, "reason": f"kept: it belongs to another {source.label}", "snapshot_created": False}
        created = True
        running = facts["export_task_status"] in exports.RUNNING_STATUSES
        if running or (facts["export_task_identifier"] and facts["export_task_status"] is None):
            state = facts["export_task_status"] or "in an unknown state"
            return {
                **kept,
                "snapshot_created": True,
                "reason": f"kept: export task {facts['export_task_identifier']} is {state}, still reading it; "
                "delete it once the export has ended",
            }
        if not job.get("delete_snapshot_after_export", True):
            return {**kept, "reason": "kept: delete_snapshot_after_export is false", "snapshot_created": True}
        source.delete_snapshot(identifier)
    except ClientError as error:
        if created:
            return {**kept, "reason": f"could not be deleted ({error_code(error)}); delete it by hand", "snapshot_created": True}
        return {**kept, "reason": f"could not be checked ({error_code(error)}); if it exists, delete it by hand", "snapshot_created": None}
    return {"deleted": True, "snapshot_identifier": identifier, "reason": "deleted after the failure", "snapshot_created": True, **facts}


def _export_task_facts(job: Job, snapshot: Snapshot | None, export: dict[str, Any] | None, failed_step: str | None) -> dict[str, Any]:
    """The run's export task as RDS reports it now: the one the state names, or, when the step
    that starts it failed, the one it would have started (its name is derived, never random)."""
    identifier = (export or {}).get("export_task_identifier")
    if not identifier and failed_step in STEPS_AFTER_EXPORT_START and snapshot:
        try:
            identifier = exports.export_identifier(job, snapshot)[1]
        except (KeyError, TypeError, ValueError):
            identifier = None
    if not identifier:
        return {"export_task_identifier": None, "export_task_status": None}
    try:
        task = exports.describe(str(identifier), job.get("source_account"))
    except ClientError as error:
        return {"export_task_identifier": identifier, "export_task_status": None, "export_task_error": error_code(error)}
    if task is None:
        if not (export or {}).get("export_task_identifier"):
            return {"export_task_identifier": None, "export_task_status": None}  # never started
        return {"export_task_identifier": identifier, "export_task_status": "NOT_FOUND"}
    return {"export_task_identifier": identifier, "export_task_status": str(task.get("Status") or "").upper() or None}


def _job_source_identifier(job: Job) -> str | None:
    return job.get("source_identifier") or job.get("cluster_identifier")
