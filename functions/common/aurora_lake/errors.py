"""Errors that end a step.

Step Functions names a Lambda error after the exception's class, so every class
here is named exactly as the state machine's Retry and Catch blocks and the
runbook refer to it. AWS service errors keep the AWS error code as their name
(see ``aws_error``), so a Retry on ``ThrottlingException`` matches a throttled
call whatever client raised it.
"""

from __future__ import annotations

from functools import cache


class WorkflowError(Exception):
    """Base of every error a step raises on purpose. The message is the Cause."""


class InvalidInput(WorkflowError):
    """The execution input breaks the schema; the message lists every problem."""


class ClusterNotAllowed(WorkflowError):
    """The cluster is not one this deployment may snapshot and export."""


class AccountNotAllowed(WorkflowError):
    """The input names another account, and this lake takes no source accounts (OrganizationId is empty)."""


class SourceNotOptedIn(WorkflowError):
    """A source account's cluster, DB instance or snapshot does not carry the opt-in tag with this lake's name."""


class DBInstanceNotAllowed(WorkflowError):
    """The DB instance is not one this deployment may snapshot and export."""


class SourceCannotExport(WorkflowError):
    """RDS cannot export this source (its engine, version or storage), or not this way."""


class SnapshotFailed(WorkflowError):
    """The snapshot ended in a status other than available."""


class SnapshotSourceMismatch(WorkflowError):
    """A snapshot with this run's name exists but belongs to another cluster."""


class ExportSourceMismatch(WorkflowError):
    """An export task with this run's name exists but exports something else."""


class ExportFailed(WorkflowError):
    """The export task ended FAILED; the message carries its FailureCause."""


class ExportCanceled(WorkflowError):
    """The export task ended CANCELED."""


class SnapshotDeadlineExceeded(WorkflowError):
    """The snapshot did not become available within the configured time."""


class ExportDeadlineExceeded(WorkflowError):
    """The export did not finish within the configured time."""


class WorkflowDeadlineReached(WorkflowError):
    """The run reached its own deadline, which comes before the execution's timeout."""


class KmsKeyPolicyIncomplete(WorkflowError):
    """The key brought with ExistingKmsKeyArn lacks a grant the stack needs; the message names it."""


class ClusterExportInProgress(WorkflowError):
    """Another export of the same cluster is running; StartExport waits for it (a Retry in the ASL)."""


class UnknownExportStatus(WorkflowError):
    """RDS reported an export status this version does not know."""


class ExportMetadataInvalid(WorkflowError):
    """The export's metadata files are missing or not in the expected form."""


class UnmappableColumnType(WorkflowError):
    """A column's exported type has no known Athena type; nothing is guessed."""


class AthenaQueryFailed(WorkflowError):
    """An Athena DDL statement failed for a reason other than throttling."""


class PartialExport(WorkflowError):
    """The export skipped tables and this deployment treats that as a failure."""


class FleetSourcesNotListed(WorkflowError):
    """A fleet could not list an account's sources (an unlisted allow-list, or more sources than a run takes)."""


class FleetResultsUnreadable(WorkflowError):
    """The fleet's Distributed Map results are missing or not in the form Step Functions writes them."""


class InvalidTriggerEvent(WorkflowError):
    """A snapshot or AWS Backup event the trigger router cannot turn into an export input (forged or malformed)."""


class AwsServiceError(WorkflowError):
    """An AWS API error; subclasses are named after the AWS error code."""

    def __init__(self, message: str, operation: str = "", code: str = "") -> None:
        super().__init__(message)
        self.operation = operation
        self.code = code


@cache
def _error_class(code: str) -> type[AwsServiceError]:
    name = code if code.isidentifier() else "".join(ch if ch.isalnum() else "_" for ch in code)
    return type(name, (AwsServiceError,), {"__module__": __name__})


def error_code(error: Exception) -> str:
    """The AWS error code of a botocore ClientError ('' for any other exception)."""
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def aws_error(client_error: Exception) -> AwsServiceError:
    """Turn a botocore ClientError into an error named after its AWS error code."""
    response = getattr(client_error, "response", {}) or {}
    error = response.get("Error", {})
    code = str(error.get("Code") or "UnknownAwsError")
    message = str(error.get("Message") or client_error)
    operation = str(getattr(client_error, "operation_name", ""))
    return _error_class(code)(f"{operation}: {code}: {message}" if operation else f"{code}: {message}", operation, code)


def aws_error_with_advice(client_error: Exception, advice: str | None) -> AwsServiceError:
    """``aws_error`` whose message (the execution's Cause) ends with what to do about it."""
    error = aws_error(client_error)
    if not advice:
        return error
    return type(error)(f"{error} What to do: {advice}", error.operation, error.code)


class NoAutomatedSnapshot(WorkflowError):
    """use_latest_automated_snapshot was asked for but the cluster has none available."""


class StateBudgetExceeded(WorkflowError):
    """A step's result would take more than its share of Step Functions' 256 KiB per state."""


class CatalogTableNotOwned(WorkflowError):
    """A table appeared under a planned name while the plan was applied, and it is another source's."""


class IcebergCanaryFailed(WorkflowError):
    """Athena read an Iceberg table differently from what its manifests record (or could not read it).

    The run's canary query counts rows and one column's values of a table it just committed and
    compares them with the exact counts of the manifests. A difference means Athena does not read
    the tables as written, most likely without their name mapping (NULL columns): the message names
    the table, the column, what the manifests say and what Athena returned.
    """
