"""The run's report: ``reports/runs/<execution name>.json`` in the export bucket.

The state, the notification and the logs carry bounded summaries; the report keeps the
whole of what they cut (RDS's WarningMessage and every table it skipped, the full
``export_only`` list, the outcome with its cause), and the notification names it. Each
step writes the part it alone knows, as a section of one JSON document:

* ``export_warning`` (CheckExport): the export task's WarningMessage as RDS returned it, and
  each skipped table or database it names;
* ``outcome`` (NotifySuccess, NotifyFailure): the status, the job, the snapshot, the export
  task, the tables, the clean-up and, for a failure, the step, error, cause and what to do.

Steps of one execution run one after another: the first to write starts the document, a later
one reads it, sets its section and writes it back; a document left by another execution of the same name
(a name is free again 90 days after its execution ended, or another stack shares the bucket) is
replaced, never merged. The object is encrypted as the bucket encrypts by default (the stack's
KMS key). The execution name (at most 80 characters, no ``/``: Step Functions' rules) is the
file name; a name that could not be one is replaced by its hash.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from aurora_lake import clock, naming
from aurora_lake.clients import client
from aurora_lake.errors import ExportMetadataInvalid, aws_error, error_code
from aurora_lake.export_metadata import skipped_from_warning

REPORT_VERSION = 1
FOLDER = naming.RUN_REPORTS_FOLDER
_SAFE_NAME = re.compile(r"[^/\\\x00-\x1f\x7f]{1,80}")


def key_for(execution_name: str) -> str:
    """``reports/runs/<execution name>.json``; a name unfit for a key is replaced by its hash."""
    name = str(execution_name or "")
    if not _SAFE_NAME.fullmatch(name) or name in (".", ".."):
        name = "execution-" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{FOLDER}{name}.json"


def uri_of(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def _read(bucket: str, key: str) -> dict[str, Any] | None:
    try:
        body = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:  # botocore ClientError: a missing report is no error, anything else is named
        if error_code(exc) in {"NoSuchKey", "404", "NotFound"}:
            return None
        if hasattr(exc, "response"):
            raise aws_error(exc) from exc
        raise
    try:
        document = json.loads(body)
    except ValueError:
        return None  # not a report of ours: replaced
    return document if isinstance(document, dict) else None


def add_section(bucket: str, execution_name: str, execution_arn: str | None, section: str, content: Any, merge: bool = False) -> str:
    """Set ``section`` of the execution's report and return the report's S3 URI.

    ``merge``: keep the sections an earlier step of this execution wrote (the caller knows the
    report exists: its state names it). A new report is written without reading first, so the
    writer needs no s3:ListBucket (without it, S3 answers a missing key with AccessDenied).
    Raises the S3 error (named after its code) when the report cannot be read or written.
    """
    key = key_for(execution_name)
    document = _read(bucket, key) if merge else None
    if document is None or document.get("execution_arn") != execution_arn:
        document = {"report_version": REPORT_VERSION, "execution_name": execution_name, "execution_arn": execution_arn}
    document[section] = content
    document["updated_at"] = clock.now()
    try:
        client("s3").put_object(
            Bucket=bucket, Key=key, Body=json.dumps(document, indent=1, default=str).encode(), ContentType="application/json"
        )
    except Exception as exc:
        if hasattr(exc, "response"):
            raise aws_error(exc) from exc
        raise
    return uri_of(bucket, key)


def section(uri: str, name: str, execution_arn: str | None) -> Any:
    """A section of the report at ``uri`` (``s3://bucket/key``), or None when it is not there."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    document = _read(bucket, key)
    if document is None or document.get("execution_arn") != execution_arn:
        return None
    return document.get(name)


def full_warning_message(export: dict[str, Any], execution_arn: str | None) -> str | None:
    """The export task's whole WarningMessage: from the state, or from the report when the state holds it cut."""
    if not export.get("warning_message_truncated"):
        return export.get("warning_message")
    found = section(str(export.get("run_report") or ""), "export_warning", execution_arn)
    if not isinstance(found, dict) or not isinstance(found.get("warning_message"), str):
        raise ExportMetadataInvalid(
            f"the export's warning message is too long for the state and its report {export.get('run_report')} "
            "does not hold it; start the export again"
        )
    return found["warning_message"]


def keep_export_warning(bucket: str, job: dict[str, Any], export_task_identifier: str, warning_message: str) -> str:
    """CheckExport's section: the whole WarningMessage and each table or database it says was skipped."""
    skipped = [{"table": entry.target, "reason": entry.reason} for entry in skipped_from_warning(warning_message)]
    content = {"export_task_identifier": export_task_identifier, "warning_message": warning_message, "skipped": skipped}
    return add_section(bucket, str(job.get("execution_name") or ""), job.get("execution_arn"), "export_warning", content)
