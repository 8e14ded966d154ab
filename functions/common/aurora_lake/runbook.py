"""What to do about each error a run can end with: the runbook in short.

The failure notification and the Cause of a permanent AWS error both quote it,
and the runbook table in docs/operations.md lists the same errors (a test keeps them in step).
"""

from __future__ import annotations

RUNBOOK: dict[str, str] = {
    "InvalidInput": "Fix the execution input as listed above and start a new execution. Nothing was created.",
    "ClusterNotAllowed": "Export only clusters listed in the AllowedClusterIdentifiers parameter (SourceAccountClusters for a source account's), or add the cluster there (sam deploy).",
    "AccountNotAllowed": "The account is neither the lake's own nor one of its source accounts. Add it to SourceAccountIds and deploy source-account.yaml there (docs/organization.md). Nothing was created.",
    "DBInstanceNotAllowed": "Export only DB instances listed in the AllowedDBInstanceIdentifiers parameter, or add the DB instance there (sam deploy).",
    "SourceCannotExport": "RDS cannot export this source (engine, version, storage, or a DB instance without a snapshot), as the cause says. Nothing was created; export a supported source.",
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
    "FleetExportFailed": "Some clusters of the fleet run were not exported: each is listed above with its error and its own execution. Fix them and start a fleet run (or a cluster's own export) again.",
    "States.Timeout": "The step or the execution ran past its time limit.",
    "States.DataLimitExceeded": "The execution input is too large for Step Functions (256 KiB with the execution's context). Shorten it (export_only lists databases or schemas instead of tables) and start a new execution. Nothing was created.",
}
DEFAULT_ADVICE = "Check the step's logs (CloudWatch Logs, filtered by the execution name) and start a new execution once fixed."


def advice_for(error: str) -> str:
    """The advice for an error name or AWS error code, with or without its ``Fault`` suffix."""
    return RUNBOOK.get(error) or RUNBOOK.get(error.removesuffix("Fault") + "Fault") or DEFAULT_ADVICE


def has_advice(error: str) -> bool:
    return error in RUNBOOK or error.removesuffix("Fault") + "Fault" in RUNBOOK
