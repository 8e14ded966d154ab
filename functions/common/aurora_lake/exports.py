"""Starting the snapshot export to S3 and following it to its end.

The export task's identifier is derived from the snapshot and the export
settings, so starting twice (a retry, a redrive, a second trigger for the same
snapshot) adopts the running task instead of paying for a second export.

A direct cluster export (no snapshot) is named after the cluster and the
execution instead: the cluster's data changes, so only the same execution
adopts it.

At most one export of a cluster (or of a DB instance) runs at a time, whatever its source: before
starting, StartExport looks for a running export of the cluster itself or of
any snapshot of it and, if there is one, raises ``ClusterExportInProgress``; the state machine retries it with a
long back-off, as it does ``ExportTaskLimitReachedFault`` (the account's 5 running
exports). Check and start are two calls, not one atomic operation: two
executions that reach StartExport within the same instant can both pass the
check. Step Functions makes that window a few milliseconds wide.

A source account's export runs in that account (its snapshot, its export task, its 5 running
exports), through its access role: the task writes into the lake's bucket under the account's own
folder with the account's export role (``<lake>-source-export-<Region>``, naming.py; ``iam:PassRole``
passes a role of the caller's account only) and the lake's key named by its full ARN (a key ID would resolve in the
source account).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from aurora_lake import clock, limits, naming, polling, runbook, settings, sources
from aurora_lake.clients import client
from aurora_lake.errors import (
    ClusterExportInProgress,
    ExportCanceled,
    ExportDeadlineExceeded,
    ExportFailed,
    ExportSourceMismatch,
    UnknownExportStatus,
    aws_error,
    aws_error_with_advice,
    error_code,
)

COMPLETE = "COMPLETE"
# ExportTask.SourceType of a direct cluster export (the RDS model's ExportSourceType: SNAPSHOT | CLUSTER).
CLUSTER_SOURCE = "CLUSTER"
RUNNING_STATUSES = frozenset({"STARTING", "IN_PROGRESS", "CANCELING"})
KNOWN_STATUSES = RUNNING_STATUSES | {COMPLETE, "FAILED", "CANCELED"}

Export = dict[str, Any]


def reported(error: ClientError) -> Exception:
    """A permanent AWS error, named after its code, with what to do in its message.

    Errors without runbook advice (throttling, 5xx, quota) are left as they
    are: the state machine retries those by name.
    """
    code = error_code(error)
    return aws_error_with_advice(error, runbook.advice_for(code, cause=str(aws_error(error))) if runbook.has_advice(code) else None)


def describe(export_task_identifier: str, account: str | None = None) -> dict[str, Any] | None:
    """The export task, or None when RDS knows no task of that name (in ``account``; None: the lake's own)."""
    try:
        found = client("rds", account=account).describe_export_tasks(ExportTaskIdentifier=export_task_identifier)
    except ClientError as error:
        if error_code(error) in {"ExportTaskNotFound", "ExportTaskNotFoundFault"}:
            return None
        raise
    tasks = found.get("ExportTasks", [])
    return tasks[0] if tasks else None


def status_of(task: dict[str, Any]) -> str:
    """RDS documents upper-case statuses, but lower case is seen too."""
    status = str(task.get("Status", "")).upper()
    if status not in KNOWN_STATUSES:
        raise UnknownExportStatus(
            f"Export task {task.get('ExportTaskIdentifier')} reports status {task.get('Status')!r}, "
            "which this version does not know. Check the task in the RDS console."
        )
    return status


def _same_export(task: dict[str, Any], snapshot_arn: str, bucket: str, export_only: list[str] | None) -> bool:
    return (
        task.get("SourceArn") == snapshot_arn
        and task.get("S3Bucket") == bucket
        and sorted(task.get("ExportOnly") or []) == sorted(export_only or [])
    )


def _utc_text(value: Any) -> str | None:
    """A DescribeExportTasks timestamp as ISO 8601 UTC text (the state is JSON)."""
    if not isinstance(value, datetime.datetime):
        return None
    moment = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _record(task: dict[str, Any], s3_prefix: str, progress: polling.Progress) -> Export:
    """The export as the state keeps it: bounded, whatever the task's ExportOnly or WarningMessage hold.

    ``export_only`` is not repeated here (the job holds it once); RDS's WarningMessage, one entry
    per skipped table, is kept whole only while it is short (``warning_message_truncated`` says
    when it is cut; CheckExport writes it whole to the run's report, ``run_report``).
    """
    return {
        "export_task_identifier": task["ExportTaskIdentifier"],
        "source_arn": task.get("SourceArn"),
        "source_type": task.get("SourceType"),
        "s3_bucket": task.get("S3Bucket"),
        "s3_prefix": s3_prefix,
        "status": status_of(task),
        "percent_progress": int(task.get("PercentProgress") or 0),
        "total_extracted_gb": task.get("TotalExtractedDataInGB"),
        **warning_fields(task.get("WarningMessage") or None),
        # The source snapshot's time (the Iceberg snapshot's) and when the files began to be written.
        "snapshot_time": _utc_text(task.get("SnapshotTime")),
        "task_start_time": _utc_text(task.get("TaskStartTime")),
        "progress": progress.to_dict(),
    }


def warning_fields(warning_message: str | None) -> dict[str, Any]:
    """RDS's WarningMessage, bounded: the text (cut when long), its item count and its first items."""
    lines = warning_summary(warning_message)
    kept = limits.cut_text(warning_message, limits.WARNING_MESSAGE_MAX_BYTES) if warning_message else None
    return {
        "warning_message": kept,
        "warning_message_truncated": kept != warning_message,
        "warning_count": len(lines),
        "warning_lines": limits.bounded_lines(lines),
    }


def export_identifier(job: dict[str, Any], source: dict[str, Any]) -> tuple[str, str]:
    """The source ARN (a cluster or DB snapshot, or the cluster itself) and the export task's name."""
    export_only = job.get("export_only")
    s3_prefix = job.get("s3_prefix") or ""
    if source.get("source_type") == CLUSTER_SOURCE:
        source_arn = source["source_arn"]
        return source_arn, naming.cluster_export_task_identifier(source_arn, job["execution_name"], export_only, s3_prefix)
    source_arn = source["snapshot_arn"]
    return source_arn, naming.export_task_identifier(source_arn, export_only, s3_prefix)


def export_role_arn(job: dict[str, Any], lake_export_role_arn: str) -> str:
    """The role RDS writes the export with: the lake's own, or the source account's export role."""
    account = job.get("source_account")
    if account is None:
        return lake_export_role_arn
    return naming.iam_role_arn(job["partition"], account, naming.source_export_role_name(settings.lake_stack_name(), job["region"]))


def export_kms_key_id(job: dict[str, Any], kms_key_arn: str) -> str:
    """The key StartExportTask encrypts with; a source account's export names it by its full key ARN."""
    if job.get("source_account") is not None and not _KEY_ARN.fullmatch(kms_key_arn):
        raise RuntimeError(
            f"The export key {kms_key_arn[:200]!r} is not a full KMS key ARN (arn:PARTITION:kms:REGION:ACCOUNT:key/ID): "
            "a source account's export can use the lake's key only by its key ARN (EXPORT_KMS_KEY_ARN)."
        )
    return kms_key_arn


_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+")


def start_or_adopt(job: dict[str, Any], snapshot: dict[str, Any], bucket: str, kms_key_arn: str, role_arn: str) -> Export:
    """Start the export of the snapshot (or, for a direct cluster export, of the cluster).

    ``kms_key_arn`` and ``role_arn`` are the lake's; a source account's export uses its own export role.
    """
    snapshot_arn, identifier = export_identifier(job, snapshot)
    export_only = job.get("export_only")
    s3_prefix = job.get("s3_prefix") or ""
    account = job.get("source_account")
    role_arn, kms_key_arn = export_role_arn(job, role_arn), export_kms_key_id(job, kms_key_arn)
    task = describe(identifier, account)
    if task is None:
        source = sources.of_kind(snapshot.get("source_kind") or job.get("source_kind") or sources.CLUSTER.kind).in_account(account)
        source_identifier = snapshot.get("source_identifier") or snapshot.get("source_cluster_identifier") or job.get("source_identifier") or job.get("cluster_identifier")
        if source_identifier:
            _wait_for_other_exports_of(source, source_identifier, identifier)
        request: dict[str, Any] = {
            "ExportTaskIdentifier": identifier,
            "SourceArn": snapshot_arn,
            "S3BucketName": bucket,
            "IamRoleArn": role_arn,
            "KmsKeyId": kms_key_arn,
        }
        if s3_prefix:
            # The export writes under PREFIX/EXPORT_ID/; S3Prefix takes no trailing slash.
            request["S3Prefix"] = s3_prefix.rstrip("/")
        if export_only:
            request["ExportOnly"] = export_only
        try:
            task = source.rds_client().start_export_task(**request)
        except ClientError as error:
            if error_code(error) not in {"ExportTaskAlreadyExistsFault", "ExportTaskAlreadyExists"}:
                raise reported(error) from error
            task = describe(identifier, account)
            if task is None:
                raise
    if not _same_export(task, snapshot_arn, bucket, export_only):
        raise ExportSourceMismatch(
            f"Export task {identifier} already exists but exports {task.get('SourceArn')} to bucket "
            f"{task.get('S3Bucket')} (ExportOnly {task.get('ExportOnly')}), not {snapshot_arn} to {bucket}. "
            "Export task identifiers cannot be reused: start a new execution with another s3_prefix."
        )
    now = clock.now()
    export = _record(task, s3_prefix, polling.Progress(started_at=now, last_zero_at=now))
    export["wait_seconds"] = polling.first_wait(polling.FIRST_EXPORT_WAIT_SECONDS)
    return export


def _wait_for_other_exports_of(source: sources.Source, source_identifier: str, own_identifier: str) -> None:
    """Raise ClusterExportInProgress while another export of the same source runs."""
    paginator = source.rds_client().get_paginator("describe_export_tasks")
    pages = paginator.paginate(Filters=[{"Name": "status", "Values": [status.lower() for status in sorted(RUNNING_STATUSES)]}])
    wanted = (source.kind, source_identifier.lower())
    for page in pages:
        for task in page.get("ExportTasks", []):
            if task.get("ExportTaskIdentifier") == own_identifier:
                continue
            # The filter is checked again: an export that is not running never blocks.
            if str(task.get("Status", "")).upper() not in RUNNING_STATUSES:
                continue
            if _source_of(str(task.get("SourceArn") or ""), source_identifier, source.account) == wanted:
                raise ClusterExportInProgress(
                    f"Export task {task.get('ExportTaskIdentifier')} of {source.label} {source_identifier} is {task.get('Status')}; "
                    f"one export per {source.label} runs at a time, so this run waits for it to end."
                )


def _source_of(source_arn: str, source_identifier: str, account: str | None = None) -> tuple[str, str] | None:
    """(kind, identifier) of what an export reads: a cluster, or a snapshot whose source RDS knows."""
    found = sources.of_export_source_arn(source_arn, account)
    if found is None:
        return None
    source, name, is_snapshot = found
    if not is_snapshot:
        return source.kind, name.lower()
    try:
        snapshot = source.describe_snapshot(name)
    except ClientError as error:
        # The role may describe only snapshots of the allowed sources; another's is not ours.
        if error_code(error) not in {"AccessDenied", "AccessDeniedException"}:
            raise
        snapshot = None
    if snapshot is not None:
        return (source.kind, snapshot.source_identifier.lower()) if snapshot.source_identifier else None
    # The snapshot is gone (or not visible): its name is the best evidence left. Names this
    # workflow and RDS give start with the source, so a match is taken as the same source.
    bare = name.removeprefix("rds:").lower()
    return (source.kind, source_identifier.lower()) if bare.startswith(source_identifier.lower() + "-") else None


def check(
    export: Export, deadline_seconds: float, account: str | None = None, keep_warning: Callable[[str], str] | None = None
) -> Export:
    """Follow the export task (of ``account``, the job's source account; None: the lake's own).

    ``keep_warning`` writes a COMPLETE task's whole WarningMessage where people read it (the
    run's report) and returns where: the record names it as ``run_report``.
    """
    identifier = export["export_task_identifier"]
    task = describe(identifier, account)
    if task is None:
        raise ExportFailed(f"Export task {identifier} no longer exists" + (f" in account {account}." if account else "."))
    status = status_of(task)
    now = clock.now()
    progress = polling.Progress.from_dict(export.get("progress"), started_at=now)
    if status == "FAILED":
        raise ExportFailed(
            f"Export task {identifier} FAILED: {task.get('FailureCause') or 'RDS gave no FailureCause'}"
        )
    if status == "CANCELED":
        raise ExportCanceled(f"Export task {identifier} was CANCELED before it completed. Nothing was made queryable.")
    record = _record(task, export.get("s3_prefix") or "", progress)
    if status == COMPLETE:
        record["wait_seconds"] = 0
        record["duration_seconds"] = int(now - progress.started_at)
        if task.get("WarningMessage") and keep_warning is not None:
            record["run_report"] = keep_warning(str(task["WarningMessage"]))
        return record
    if now - progress.started_at > deadline_seconds:
        raise ExportDeadlineExceeded(
            f"Export task {identifier} is still {status} ({record['percent_progress']}%) after "
            f"{int(now - progress.started_at)} s (limit {int(deadline_seconds)} s, parameter ExportTimeoutSeconds). "
            "It keeps running in RDS: cancel it with `aws rds cancel-export-task` or raise the limit."
        )
    percent = 0.0 if status == "STARTING" else float(task.get("PercentProgress") or 0)
    record["wait_seconds"], progress = polling.next_wait(progress, now, percent)
    record["progress"] = progress.to_dict()
    return record


def warning_summary(warning_message: str | None) -> list[str]:
    """Readable lines from an export's WarningMessage (JSON text, or plain text)."""
    if not warning_message:
        return []
    try:
        parsed = json.loads(warning_message)
    except ValueError:
        return [warning_message]
    lines: list[str] = []
    if isinstance(parsed, dict):
        for key, entries in parsed.items():
            for entry in entries if isinstance(entries, list) else [entries]:
                lines.append(f"{key}: {json.dumps(entry, sort_keys=True) if not isinstance(entry, str) else entry}")
    return lines or [warning_message]
