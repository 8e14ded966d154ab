"""Aurora DB clusters: cluster snapshots, and the cluster's own data exported directly."""

from __future__ import annotations

from typing import Any

from aurora_lake import naming
from aurora_lake.clients import client
from aurora_lake.errors import ClusterNotAllowed
from aurora_lake.sources.base import SnapshotDescription, Source

AWS_BACKUP_SNAPSHOT_TYPE = "awsbackup"


def describe_cluster_snapshot(description: dict[str, Any]) -> SnapshotDescription:
    return SnapshotDescription(
        arn=description["DBClusterSnapshotArn"],
        identifier=description["DBClusterSnapshotIdentifier"],
        source_identifier=description.get("DBClusterIdentifier"),
        engine=description.get("Engine"),
        engine_version=description.get("EngineVersion"),
        snapshot_type=description.get("SnapshotType"),
        status=str(description.get("Status", "")).lower(),
        percent_progress=int(description.get("PercentProgress") or 0),
        created_at=description.get("SnapshotCreateTime"),
        storage_type=description.get("StorageType"),
    )


class ClusterSource(Source):
    kind = "cluster"
    label = "cluster"
    input_key = "cluster_identifier"
    allowed_parameter = "AllowedClusterIdentifiers"
    allowed_variable = "ALLOWED_CLUSTERS"
    identifier_max_length = naming.CLUSTER_IDENTIFIER_MAX_LENGTH
    snapshot_resource = naming.CLUSTER_SNAPSHOT_RESOURCE
    # The model's wire code is DBClusterSnapshotNotFoundFault; the short form is tolerated too.
    snapshot_not_found_codes = frozenset({"DBClusterSnapshotNotFoundFault", "DBClusterSnapshotNotFound"})
    snapshot_exists_codes = frozenset({"DBClusterSnapshotAlreadyExistsFault", "DBClusterSnapshotAlreadyExists"})
    not_found_error = ("DBClusterSnapshotNotFoundFault", "DescribeDBClusterSnapshots")
    exports_directly = True
    not_allowed_error = ClusterNotAllowed

    def export_source_arn(self, partition: str, region: str, account: str, identifier: str) -> str:
        return naming.cluster_arn(partition, region, account, identifier)

    def describe_snapshot(self, snapshot_identifier: str) -> SnapshotDescription | None:
        # RDS finds an automated snapshot by name only when its type is given too.
        if snapshot_identifier.startswith(naming.AUTOMATED_SNAPSHOT_PREFIX):
            return self._describe(snapshot_identifier, {"SnapshotType": "automated"})
        found = self._describe(snapshot_identifier, {})
        if found is None and snapshot_identifier.startswith(naming.AWS_BACKUP_SNAPSHOT_PREFIX):
            # UNCONFIRMED: whether RDS lists an AWS Backup recovery point of a cluster without its
            # type, and whether "awsbackup" is accepted here (the DescribeDBSnapshots reference says
            # it does not apply to Aurora). If neither finds it, the run fails naming the snapshot;
            # if the type is refused, it fails with RDS's own error.
            found = self._describe(snapshot_identifier, {"SnapshotType": AWS_BACKUP_SNAPSHOT_TYPE})
        return found

    def _describe(self, identifier: str, extra: dict[str, str]) -> SnapshotDescription | None:
        found = self._ignore_not_found(client("rds").describe_db_cluster_snapshots, DBClusterSnapshotIdentifier=identifier, **extra)
        snapshots = (found or {}).get("DBClusterSnapshots", [])
        return describe_cluster_snapshot(snapshots[0]) if snapshots else None

    def create_snapshot(self, source_identifier: str, snapshot_identifier: str, tags: list[dict[str, str]]) -> SnapshotDescription:
        created = client("rds").create_db_cluster_snapshot(
            DBClusterIdentifier=source_identifier, DBClusterSnapshotIdentifier=snapshot_identifier, Tags=tags
        )
        return describe_cluster_snapshot(created["DBClusterSnapshot"])

    def automated_snapshots(self, source_identifier: str) -> list[SnapshotDescription]:
        paginator = client("rds").get_paginator("describe_db_cluster_snapshots")
        return [
            describe_cluster_snapshot(snapshot)
            for page in paginator.paginate(DBClusterIdentifier=source_identifier, SnapshotType="automated")
            for snapshot in page.get("DBClusterSnapshots", [])
        ]

    def delete_snapshot(self, snapshot_identifier: str) -> bool:
        deleted = self._ignore_not_found(client("rds").delete_db_cluster_snapshot, DBClusterSnapshotIdentifier=snapshot_identifier)
        return deleted is not None


CLUSTER = ClusterSource()
