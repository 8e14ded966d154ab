"""What to do about each error a run can end with: the runbook in short.

The failure notification and the Cause of a permanent AWS error both quote it,
and the runbook table in docs/operations.md lists the same errors (a test keeps them in step).

Access denied (``AccessDenied``, ``AccessDeniedException``, SNS's ``AuthorizationError``) is the
most likely failure under an organization's guardrails: its advice is built from the refusal
itself, naming the call, the role that made it and the kind of policy that refused it as AWS's
message says (IAM User Guide, "Troubleshoot access denied error messages": ``User: PRINCIPAL is
not authorized to perform: ACTION on resource: RESOURCE because no POLICY-TYPE policy allows
the ACTION action`` or ``with an explicit deny in a POLICY-TYPE policy``), or, when the message
does not say, the likely ones: a service control policy or the permissions boundary.
"""

from __future__ import annotations

import re

RUNBOOK: dict[str, str] = {
    "InvalidInput": "Fix the execution input as listed above and start a new execution.",
    "ClusterNotAllowed": "Export only clusters listed in the AllowedClusterIdentifiers parameter, or add the cluster there (sam deploy). A source account's clusters opt in with a tag instead (docs/organization.md).",
    "AccountNotAllowed": "This lake takes no source accounts: deploy it with OrganizationId, and source-account.yaml in the account through the stack set (docs/organization.md).",
    "SourceNotOptedIn": "The source account's owner tags the cluster or DB instance aurora-lake:export = this lake's stack name; a given snapshot must carry the tag itself (CopyTagsToSnapshot for automated snapshots, tag copy for AWS Backup).",
    "DBInstanceNotAllowed": "Export only DB instances listed in the AllowedDBInstanceIdentifiers parameter, or add the DB instance there (sam deploy).",
    "SourceCannotExport": "RDS cannot export this source (engine, version, storage, or a DB instance without a snapshot), as the cause says. Export a supported source.",
    "ExportFailed": "Read the FailureCause above. IAM role or KMS problems: check the export role's trust and S3 permissions and the key policy, then start a new execution.",
    "ExportCanceled": "Someone canceled the export task. Start a new execution when ready.",
    "ExportDeadlineExceeded": "The export took longer than ExportTimeoutSeconds. Check it in the RDS console; raise the limit for large databases.",
    "WorkflowDeadlineReached": "The run reached its deadline, an hour before the execution's 48-hour limit. Lower SnapshotTimeoutSeconds or ExportTimeoutSeconds, or export fewer tables at once; cancel a running export in the RDS console.",
    "KmsKeyPolicyIncomplete": "The existing KMS key's policy lacks the grant named above. Add it (docs/operations.md, An existing key or bucket) and start again.",
    "SnapshotDeadlineExceeded": "The snapshot took longer than SnapshotTimeoutSeconds. Check it in the RDS console.",
    "SnapshotFailed": "The snapshot is not available. Check it in the RDS console and start a new execution.",
    "SnapshotSourceMismatch": "A snapshot with this execution's name belongs to another cluster. Delete or rename it.",
    "ExportSourceMismatch": "An export task with the same identifier exports something else. Use another s3_prefix.",
    "NoAutomatedSnapshot": "The cluster has no available automated snapshot. Check its backup retention or take a new snapshot.",
    "UnknownExportStatus": "RDS reported an export status this version does not know. Check the export in the RDS console.",
    "ExportMetadataInvalid": "The export's metadata files are missing or malformed. Check the export folder in S3.",
    "UnmappableColumnType": "A column's exported type has no known Athena type. The table is named above; report it with the type.",
    "CatalogTableNotOwned": "A table of another source took a planned name while the run applied its plan; it was left as it is. Start the export again: the new plan leaves that table out and reports it.",
    "IcebergCanaryFailed": "Athena did not read a table the run wrote as its manifests record it (table, column and counts above), or could not query it. Do not use the tables' new snapshots until resolved: check the workgroup's engine version (Athena engine 3 reads Iceberg), Lake Formation (register the whole lake bucket, docs/security.md) and the canary's query in the Athena console; the tables keep their earlier snapshots (FOR VERSION AS OF).",
    "AthenaQueryFailed": "An Athena statement failed. The statement and reason are above; check the workgroup and Glue database permissions.",
    "PartialExport": "The export skipped tables and FailOnPartialExport is true. The missing tables and reasons are above.",
    "DBClusterNotFoundFault": "The cluster does not exist in this account and Region. Check cluster_identifier.",
    "DBClusterSnapshotNotFoundFault": "The snapshot does not exist. Check snapshot_arn.",
    "DBSnapshotNotFound": "The DB snapshot does not exist. Check snapshot_arn.",
    "DBInstanceNotFound": "The DB instance does not exist in this account and Region. Check db_instance_identifier.",
    "InvalidDBInstanceState": "The DB instance stayed busy (for example in a backup) longer than the retries allow. Start again later.",
    "SnapshotQuotaExceeded": "The account has reached its manual snapshot quota. Delete old manual snapshots or ask AWS for a higher quota.",
    "KMSKeyNotAccessibleFault": "The export could not use the KMS key. Check the key policy and that the key is enabled.",
    "IamRoleMissingPermissionsFault": "The export role lacks S3 or KMS permissions. Redeploy the stack or check the role's policy.",
    "IamRoleNotFoundFault": "The export role does not exist. Redeploy the stack.",
    "InvalidS3BucketFault": "The export bucket is missing, in another Region, or not writable by the export role.",
    "InvalidExportOnlyFault": "An export_only entry names no existing database, schema or table. Fix export_only.",
    "InvalidExportSourceStateFault": "The snapshot is not in a state that can be exported. Check it in the RDS console.",
    "InvalidDBClusterStateFault": "The cluster stayed busy (for example in a backup) longer than the retries allow. Start again later.",
    "ClusterExportInProgress": "Another export of this cluster or DB instance kept running past the wait. Start again once it has ended (RDS console, Exports in Amazon S3).",
    "ExportTaskLimitReachedFault": "The account kept 5 exports running past the wait. Start again once some have ended (RDS console, Exports in Amazon S3).",
    "FleetExportFailed": "Some sources of the fleet run were not exported: the e-mail lists the first of them with their errors, the fleet's report in S3 lists every one with its own execution. Fix them and start a fleet run (or a source's own export) again.",
    "FleetSourcesNotListed": "The fleet could not list an account's sources: a scheduled fleet needs AllowedClusterIdentifiers and AllowedDBInstanceIdentifiers listed by name (not '*'), and one account takes at most 200 sources per run. Fix the parameter or split the fleet.",
    "FleetResultsUnreadable": "The fleet's Distributed Map results in S3 (fleet-runs/EXECUTION/results/) are missing or not as Step Functions writes them. Check the map run in the Step Functions console; each source's own execution still holds its outcome.",
    "InvalidTriggerEvent": "An event reached the trigger router that names no snapshot this deployment can export (forged or malformed). It is in the trigger dead-letter queue: read it, then delete it. Nothing was started.",
    "StateBudgetExceeded": "A step's result would have outgrown its share of Step Functions' 256 KiB per state; the run stopped there instead of failing uncaught. The cause names the step and the sizes: report it with the run report.",
    "AccessDenied": "An AWS call was refused (access denied): the call, the role and the policy that refused it are named above.",
    "AccessDeniedException": "An AWS call was refused (access denied): the call, the role and the policy that refused it are named above.",
    "AuthorizationError": "SNS refused the call (access denied): the call, the role and the policy that refused it are named above.",
    "States.Timeout": "The step or the execution ran past its time limit.",
    "States.DataLimitExceeded": "The execution input is too large for Step Functions (256 KiB with the execution's context). Shorten it (export_only lists databases or schemas instead of tables) and start a new execution.",
}
DEFAULT_ADVICE = "Check the step's logs (CloudWatch Logs, filtered by the execution name) and start a new execution once fixed."


ACCESS_DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "AuthorizationError", "Lambda.AccessDeniedException"})

# The role each step's function runs as (template.yaml), for refusals whose message names none.
STEP_ROLES = {
    "ValidateInput": "ValidateInputRole",
    "CreateSnapshot": "CreateSnapshotRole",
    "CheckSnapshot": "CheckSnapshotRole",
    "StartExport": "StartExportRole",
    "CheckExport": "CheckExportRole",
    "CreateAthenaTables": "CreateAthenaTablesRole",
    "CleanUpSnapshot": "DeleteSnapshotRole",
    "NotifySuccess": "NotifyRole",
}

_REFUSAL = re.compile(
    r"(?:User|Principal): (?P<principal>\S+) is not authorized to perform: (?P<action>[\w:*-]+)"
    r"(?: on resource: \"?(?P<resource>[^\s\"]+?)\"?(?=\s|$))?"
)
_CALL = re.compile(r"^(?P<operation>[A-Za-z0-9]+): (?:AccessDenied\w*|AuthorizationError): ")
_EXPLICIT, _IMPLICIT = "with an explicit deny in", "because no"

_POLICY_ADVICE = {
    "service control": "a service control policy (SCP) of your organization {how} {action}: ask the organization's "
    "administrators to allow it for this role (or exempt the role from that SCP)",
    "resource control": "a resource control policy (RCP) of your organization {how} {action} on this resource: ask the "
    "organization's administrators to allow it",
    "permissions boundary": "the role's permissions boundary (parameter PermissionsBoundaryArn) {how} {action}: add the "
    "action to the boundary policy, or deploy with a boundary that allows what docs/security.md lists",
    "identity-based": "the role's own policy {how} {action}: the stack grants each step exactly what it needs, so "
    "either the resource is not one this deployment may use (allowed clusters, bucket, key) or the role was changed "
    "outside the stack: redeploy it",
    "resource-based": "the resource's own policy (bucket, key or topic policy) {how} {action} to this role: allow it there",
    "session": "the session policy of the assumed role {how} {action}",
    "VPC endpoint": "the VPC endpoint's policy {how} {action}",
}


def access_denied_advice(cause: str | None, step: str | None = None, account: str | None = None) -> str:
    """What to do about a refused AWS call: which call, which role, which policy (or the likely ones)."""
    text = str(cause or "")
    call = _CALL.match(text)
    refusal = _REFUSAL.search(text)
    action = refusal.group("action") if refusal else None
    operation = call.group("operation") if call else None
    what = f"The call {operation} ({action})" if operation and action else f"The call {operation or action or 'to AWS'}"
    role = _role_of(refusal.group("principal") if refusal else None, step, account)
    resource = refusal.group("resource") if refusal and refusal.group("resource") else None
    where = f" on {resource}" if resource else ""
    explicit = _EXPLICIT in text
    said = text.split(_EXPLICIT if explicit else _IMPLICIT, 1)[1][:60].lower() if explicit or _IMPLICIT in text else ""
    policy = next((key for key in _POLICY_ADVICE if key.lower() in said), None)
    if policy is not None:
        how = "explicitly denies" if explicit else "does not allow"
        reason = _POLICY_ADVICE[policy].format(how=how, action=action or "it")
        return f"{what} was refused to {role}{where}: {reason}. Then start a new execution."
    return (
        f"{what} was refused to {role}{where}, and AWS's message does not say which policy refused it. Under an "
        "organization the likely ones are a service control policy (SCP) that denies the action, or the roles' "
        "permissions boundary (parameter PermissionsBoundaryArn); else the resource's own policy (bucket or key policy). "
        "Find the refused call in CloudTrail (errorCode AccessDenied) and check it with the IAM policy simulator, then start "
        "a new execution."
    )


def _role_of(principal: str | None, step: str | None, account: str | None) -> str:
    """The role named by the refused principal (an assumed-role session or a role ARN), else the step's."""
    parts = (principal or "").split(":", 5)
    if len(parts) == 6 and parts[2] in ("sts", "iam"):
        kind, _, rest = parts[5].partition("/")
        if kind == "assumed-role" and rest:
            return f"role {rest.split('/')[0]} (account {parts[4]})"
        if kind == "role" and rest:
            return f"role {rest.rsplit('/', 1)[-1]} (account {parts[4]})"
    if principal:
        return principal
    if account:
        return f"the lake's access role in source account {account}, or the role of the {step or 'failed'} step's function"
    if step in STEP_ROLES:
        return f"the role of the {step} function ({STEP_ROLES[step]} in the stack)"
    return "the role of the failed step's function"


def advice_for(error: str, cause: str | None = None, step: str | None = None, account: str | None = None) -> str:
    """The advice for an error name or AWS error code, with or without its ``Fault`` suffix.

    An access denial's advice is built from its ``cause`` (and the failed ``step``, the source ``account``).
    """
    if error in ACCESS_DENIED_CODES:
        return access_denied_advice(cause, step, account)
    return RUNBOOK.get(error) or RUNBOOK.get(error.removesuffix("Fault") + "Fault") or DEFAULT_ADVICE


def has_advice(error: str) -> bool:
    return error in RUNBOOK or error.removesuffix("Fault") + "Fault" in RUNBOOK
