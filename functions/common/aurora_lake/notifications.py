"""The success and failure notifications, as an on-call engineer reads them.

Subjects stay within SNS's 100 characters and start with the status; bodies say
what happened, where the data is, how to query it, and for a failure, which
step failed, the AWS error and what to do. Message attributes carry status and
cluster so that subscribers can filter.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from aurora_lake.exports import warning_summary

SUBJECT_LIMIT = 100
ELLIPSIS = "..."
PRODUCT = "aurora-lake"

# What to do about each error a run can end with: the runbook in short.
RUNBOOK: dict[str, str] = {
    "InvalidInput": "Fix the execution input as listed above and start a new execution. Nothing was created.",
    "ClusterNotAllowed": "Export only clusters listed in the AllowedClusterIdentifiers parameter, or add the cluster there (sam deploy).",
    "ExportFailed": "Read the FailureCause above. IAM role or KMS problems: check the export role's trust and S3 permissions and the key policy, then start a new execution.",
    "ExportCanceled": "Someone canceled the export task. Start a new execution when ready.",
    "ExportDeadlineExceeded": "The export took longer than ExportTimeoutSeconds. Check it in the RDS console; raise the limit for large databases.",
    "SnapshotDeadlineExceeded": "The snapshot took longer than SnapshotTimeoutSeconds. Check it in the RDS console.",
    "SnapshotFailed": "The snapshot is not available. Check it in the RDS console and start a new execution.",
    "SnapshotSourceMismatch": "A snapshot with this execution's name belongs to another cluster. Delete or rename it.",
    "ExportSourceMismatch": "An export task with the same identifier exports something else. Use another s3_prefix.",
    "NoAutomatedSnapshot": "The cluster has no available automated snapshot. Check its backup retention or take a new snapshot.",
    "UnknownExportStatus": "RDS reported an export status this version does not know. Check the export in the RDS console.",
    "ExportMetadataInvalid": "The export's metadata files are missing or malformed. Check the export folder in S3.",
    "UnmappableColumnType": "A column's exported type has no known Athena type. The table is named above; report it with the type.",
    "AthenaNameCollision": "Two source tables or columns get the same Athena name. They are named above; rename one at the source or export them separately.",
    "AthenaQueryFailed": "An Athena statement failed. The statement and reason are above; check the workgroup and Glue database permissions.",
    "PartialExport": "The export skipped tables and FailOnPartialExport is true. The missing tables and reasons are above.",
    "DBClusterNotFoundFault": "The cluster does not exist in this account and Region. Check cluster_identifier.",
    "DBClusterSnapshotNotFoundFault": "The snapshot does not exist. Check snapshot_arn.",
    "SnapshotQuotaExceeded": "The account has reached its manual snapshot quota. Delete old manual snapshots or ask AWS for a higher quota.",
    "KMSKeyNotAccessibleFault": "The export could not use the KMS key. Check the key policy and that the key is enabled.",
    "IamRoleMissingPermissionsFault": "The export role lacks S3 or KMS permissions. Redeploy the stack or check the role's policy.",
    "IamRoleNotFoundFault": "The export role does not exist. Redeploy the stack.",
    "InvalidS3BucketFault": "The export bucket is missing, in another Region, or not writable by the export role.",
    "InvalidExportOnlyFault": "An export_only entry names no existing database, schema or table. Fix export_only.",
    "InvalidExportSourceStateFault": "The snapshot is not in a state that can be exported. Check it in the RDS console.",
    "InvalidDBClusterStateFault": "The cluster stayed busy (for example in a backup) longer than the retries allow. Start again later.",
    "ClusterExportInProgress": "Another export of this cluster kept running past the wait. Start again once it has ended (RDS console, Exports in Amazon S3).",
    "ExportTaskLimitReached": "The account kept 5 exports running past the wait. Start again once some have ended (RDS console, Exports in Amazon S3).",
    "States.Timeout": "The step or the execution ran past its time limit.",
}
DEFAULT_ADVICE = "Check the step's logs (CloudWatch Logs, filtered by the execution name) and start a new execution once fixed."


def _one_line(text: Any) -> str:
    """Printable ASCII on one line: SNS refuses subjects with line breaks or control characters."""
    return re.sub(r"\s+", " ", re.sub(r"[^\x20-\x7e]", " ", str(text or ""))).strip()


def subject(status: str, cluster: str | None, detail: str, label: str = "") -> str:
    """``[aurora-lake] STATUS cluster label detail`` within SNS's 100 characters.

    The detail (the export id, or the failed step and error) is what tells one e-mail from
    another, so it is kept whole: the label goes first, then the cluster when the export id
    already begins with it (names derived from the cluster do), then the cluster is shortened.
    """
    head = f"[{PRODUCT}] {status}"
    cluster, detail, label = _one_line(cluster), _one_line(detail), _one_line(label)
    candidates = [" ".join(p for p in (head, cluster, label, detail) if p), " ".join(p for p in (head, cluster, detail) if p)]
    if cluster and detail.lower().startswith(cluster.lower() + "-"):
        candidates.append(f"{head} {detail}")
    for candidate in candidates:
        if len(candidate) <= SUBJECT_LIMIT:
            return candidate
    room = SUBJECT_LIMIT - len(head) - len(detail) - 2 - len(ELLIPSIS)
    if cluster and room >= 8:
        return f"{head} {cluster[:room]}{ELLIPSIS} {detail}"
    return candidates[1][: SUBJECT_LIMIT - len(ELLIPSIS)] + ELLIPSIS


_CONSOLE_DOMAINS = {"aws": "console.aws.amazon.com", "aws-cn": "console.amazonaws.cn", "aws-us-gov": "console.amazonaws-us-gov.com"}


def console_link(execution_arn: str | None, region: str | None = None) -> str | None:
    """The execution's page in the Step Functions console (Region and partition from its ARN)."""
    if not isinstance(execution_arn, str) or not execution_arn.startswith("arn:"):
        return None
    parts = execution_arn.split(":")
    partition = parts[1] if len(parts) > 3 else "aws"
    region = region or (parts[3] if len(parts) > 3 else None)
    domain = _CONSOLE_DOMAINS.get(partition)
    if not region or not domain:
        return None
    return f"https://{region}.{domain}/states/home?region={region}#/v2/executions/details/{execution_arn}"


def cause_text(cause: Any) -> str:
    """A Lambda error's Cause is JSON with errorMessage; anything else is kept as is."""
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
        except ValueError:
            return cause
        if isinstance(parsed, dict) and "errorMessage" in parsed:
            return str(parsed["errorMessage"])
        return cause
    return json.dumps(cause) if cause is not None else ""


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def _size(gigabytes: Any) -> str:
    """RDS reports whole gigabytes: 0 means less than one."""
    if gigabytes is None:
        return "unknown"
    value = float(gigabytes)
    return "less than 1 GB" if value < 1 else f"{value:g} GB"


def _utc(epoch: Any) -> str | None:
    if not isinstance(epoch, (int, float)):
        return None
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _attributes(status: str, cluster: str | None, **extra: str | None) -> dict[str, dict[str, str]]:
    """Message attributes for subscription filter policies (SNS refuses empty values)."""
    attributes = {"status": {"DataType": "String", "StringValue": status}}
    for name, value in (("cluster", cluster), *extra.items()):
        if value:
            attributes[name] = {"DataType": "String", "StringValue": str(value)}
    return attributes


def _cluster(state: dict[str, Any]) -> str | None:
    job = state.get("job") or {}
    snapshot = state.get("snapshot") or {}
    raw = state.get("input") if isinstance(state.get("input"), dict) else state
    return (
        job.get("cluster_identifier")
        or snapshot.get("source_cluster_identifier")
        or (raw.get("cluster_identifier") if isinstance(raw.get("cluster_identifier"), str) else None)
    )


def _execution(state: dict[str, Any]) -> tuple[str | None, str | None]:
    """The execution's ARN and name: from the job, or (before validation) from the state itself."""
    job = state.get("job") or {}
    arn = job.get("execution_arn") or state.get("execution_arn")
    name = job.get("execution_name") or state.get("execution_name")
    return (arn if isinstance(arn, str) else None), (name if isinstance(name, str) else None)


def _footer(state: dict[str, Any]) -> list[str]:
    arn, name = _execution(state)
    lines = []
    link = console_link(arn, (state.get("job") or {}).get("region"))
    if link:
        lines += ["", "Execution (every state, input and error):", f"  {link}"]
    if name:
        lines += ["", f'Logs: the functions\' log lines of this run carry "correlation_id": "{name}".']
    return lines


def success_message(state: dict[str, Any], now: float, workgroup: str) -> dict[str, Any]:
    job = state.get("job") or {}
    snapshot = state.get("snapshot") or {}
    export = state.get("export") or {}
    athena = state.get("athena") or {}
    cleanup = state.get("cleanup") or {}
    cluster = _cluster(state)
    export_id = export.get("export_task_identifier", "")
    partial = bool(athena.get("partial")) or bool(export.get("warning_message"))
    status = "PARTIAL" if partial else "SUCCEEDED"
    location = f"s3://{export.get('s3_bucket')}/{export.get('s3_prefix') or ''}{export_id}/"
    database = athena.get("database")
    workgroup = athena.get("workgroup") or workgroup
    sample_table = athena.get("sample_table")
    created, skipped = athena.get("tables_created", 0), athena.get("tables_skipped", 0)
    if partial:
        headline = f"The export of {cluster or 'the snapshot'} finished with missing tables: {created} queryable in Athena, {skipped} missing (listed below)."
    else:
        headline = f"The export of {cluster or 'the snapshot'} to the data lake succeeded: {created} tables are queryable in Athena."
    lines = [
        headline,
        "",
        f"Status:        {status}",
        f"Cluster:       {cluster}",
        f"Snapshot:      {snapshot.get('snapshot_arn')}",
        f"Export task:   {export_id}",
        f"Started:       {_utc(job.get('started_epoch')) or 'unknown'}",
        f"Duration:      {_duration(now - job['started_epoch']) if isinstance(job.get('started_epoch'), (int, float)) else 'unknown'}",
        f"Exported size: {_size(export.get('total_extracted_gb'))}",
        f"Tables:        {created} queryable, {skipped} skipped by the export",
        f"S3 location:   {location}",
        f"Athena:        database {database}, workgroup {workgroup}",
    ]
    if athena.get("report_uri"):
        lines.append(f"Table report:  {athena['report_uri']}")
    if partial:
        lines += ["", "PARTIAL: these tables are missing from the export:"]
        for missing in athena.get("missing_tables") or []:
            lines.append(f"  - {missing.get('table')}: {missing.get('reason')}" if isinstance(missing, dict) else f"  - {missing}")
        if athena.get("missing_tables_more"):
            lines.append(f"  ... and {athena['missing_tables_more']} more (see {athena.get('report_uri')})")
        for warning in warning_summary(export.get("warning_message")):
            lines.append(f"  - export warning: {warning}")
        lines.append("  Set FailOnPartialExport to true to fail such runs instead.")
    if sample_table and database:
        lines += [
            "",
            f"Query it in Athena (workgroup {workgroup}):" if workgroup else "Query it in Athena:",
            f'  SELECT * FROM "{database}"."{sample_table}" LIMIT 10;',
        ]
    if cleanup:
        lines += ["", f"Snapshot cleanup: {cleanup.get('snapshot_identifier')}: {cleanup.get('reason')}"]
    lines += _footer(state)
    return {
        "subject": subject(status, cluster, export_id, label="export"),
        "message": "\n".join(lines),
        "attributes": _attributes(status, cluster, export_id=export_id),
        "status": status,
    }


def failure_message(state: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    failure = state.get("failure") or {}
    job = state.get("job") or {}
    snapshot = state.get("snapshot") or {}
    export = state.get("export") or {}
    error = str(failure.get("error") or "UnknownError")
    cause = cause_text(failure.get("cause"))
    step = failure.get("step") or "unknown step"
    cluster = _cluster(state)
    advice = RUNBOOK.get(error) or RUNBOOK.get(error.removesuffix("Fault") + "Fault") or DEFAULT_ADVICE
    lines = [
        f"The export of {cluster or 'the requested snapshot'} to the data lake FAILED in step {step}.",
        "",
        f"Failed step:  {step}",
        f"Error:        {error}",
        f"Cause:        {cause}",
        f"What to do:   {advice}",
    ]
    started = job.get("started_epoch")
    if isinstance(started, (int, float)):
        lines.append(f"Started:      {_utc(started)}" + (f" (failed after {_duration(now - started)})" if now is not None else ""))
    if export.get("export_task_identifier"):
        lines.append(f"Export task:  {export['export_task_identifier']} ({export.get('status')})")
    cleanup = state.get("cleanup") or {}
    if cleanup.get("snapshot_identifier"):
        lines.append(f"Snapshot:     {cleanup['snapshot_identifier']} (created by this execution): {cleanup.get('reason')}")
    elif state.get("cleanup_error") or (snapshot.get("created_by_this_run") and not cleanup):
        name = snapshot.get("snapshot_identifier") or job.get("snapshot_identifier")
        lines.append(f"Snapshot:     {name} was created by this execution and may still exist; delete it by hand.")
    lines += _footer(state)
    return {
        "subject": subject("FAILED", cluster, f"{step}: {error}"),
        "message": "\n".join(lines),
        "attributes": _attributes("FAILED", cluster, error=_one_line(error)),
        "error": error,
        "cause": cause,
    }
