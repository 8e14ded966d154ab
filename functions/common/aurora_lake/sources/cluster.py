"""Aurora DB clusters: cluster snapshots, and the cluster's own data exported directly."""

from __future__ import annotations

from aurora_lake import naming
from aurora_lake.errors import ClusterNotAllowed
from aurora_lake.sources.base import RdsNames, Source



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
    describe_source = "describe_db_clusters"
    source_list = "DBClusters"
    source_not_found_codes = frozenset({"DBClusterNotFoundFault", "DBClusterNotFound"})
    rds = RdsNames(
        describe="describe_db_cluster_snapshots",
        create="create_db_cluster_snapshot",
        delete="delete_db_cluster_snapshot",
        source_parameter="DBClusterIdentifier",
        snapshot_parameter="DBClusterSnapshotIdentifier",
        snapshot_list="DBClusterSnapshots",
        snapshot_record="DBClusterSnapshot",
        snapshot_arn="DBClusterSnapshotArn",
    )

    def export_source_arn(self, partition: str, region: str, account: str, identifier: str) -> str:
        return naming.cluster_arn(partition, region, account, identifier)


CLUSTER = ClusterSource()
