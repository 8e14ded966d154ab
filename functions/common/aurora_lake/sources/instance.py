"""RDS DB instances (RDS for MySQL, MariaDB and PostgreSQL): DB snapshots only.

What RDS exports (RDS User Guide, "Exporting DB snapshot data to Amazon S3"): snapshots of
MariaDB, MySQL and PostgreSQL DB instances of the versions listed below, not of DB instances
on magnetic storage, and never of RDS Custom or Db2 instances (StartExportTask reference);
Oracle and SQL Server are not among the engines at all. A DB instance's data cannot be exported
without a snapshot (only Aurora clusters can). Anything else is refused here, before the run
creates anything, naming the engine, version or storage type.
"""

from __future__ import annotations

import re

from botocore.exceptions import ClientError

from aurora_lake import naming
from aurora_lake.errors import DBInstanceNotAllowed, SourceCannotExport, error_code
from aurora_lake.sources.base import RdsNames, SnapshotDescription, Source

EXPORTABLE_ENGINES = ("mariadb", "mysql", "postgres")
# Oldest exportable version of each major version; a major version not listed is exportable when
# it is newer than every listed one ("and higher" in the guide's table) and refused when older.
# PostgreSQL 9.6.6 to 9.6.9 are exportable too, 9.6.10 and 9.6.11 are not.
MINIMUM_VERSIONS: dict[str, dict[tuple[int, ...], tuple[int, ...]]] = {
    "mariadb": {(10, 0): (10, 0, 32), (10, 1): (10, 1, 26), (10, 2): (10, 2, 12), (10, 3): (10, 3)},
    "mysql": {(5, 6): (5, 6, 40), (5, 7): (5, 7, 24), (8, 0): (8, 0, 13)},
    "postgres": {(9, 5): (9, 5, 16), (9, 6): (9, 6, 12), (10,): (10, 7), (11,): (11, 2)},
}
_POSTGRES_9_6_EXCEPTION = ((9, 6, 6), (9, 6, 9))
# DB instances on magnetic storage cannot be exported (StorageType "standard" in the RDS API).
MAGNETIC_STORAGE = "standard"
_VERSION = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?")
INSTANCE_NOT_FOUND_CODES = frozenset({"DBInstanceNotFound", "DBInstanceNotFoundFault"})


def export_refusal(engine: object, version: object, storage_type: object = None) -> str | None:
    """Why RDS cannot export a DB instance (or its snapshot) of this engine and version; None if it can."""
    engine_text = str(engine or "").lower()
    if engine_text.startswith("custom-"):
        return f"engine {engine!r} is RDS Custom, whose snapshots RDS cannot export"
    if engine_text not in EXPORTABLE_ENGINES:
        return f"engine {engine!r} cannot be exported; RDS exports DB snapshots of MariaDB, MySQL and PostgreSQL only"
    if storage_type == MAGNETIC_STORAGE:
        return "it uses magnetic storage (StorageType standard), whose snapshots RDS cannot export"
    match = _VERSION.match(str(version or ""))
    if not match:
        return f"engine version {version!r} of {engine_text} is not a version this workflow can check"
    parts = tuple(int(part) for part in match.groups() if part is not None)
    table = MINIMUM_VERSIONS[engine_text]
    major = next((key for key in table if parts[: len(key)] == key), None)
    if major is None:
        newest = max(table)
        if parts[: len(newest)] > newest:
            return None
        return f"{engine_text} {version} is older than every version RDS exports"
    if engine_text == "postgres" and _POSTGRES_9_6_EXCEPTION[0] <= parts <= _POSTGRES_9_6_EXCEPTION[1]:
        return None
    if parts < table[major]:
        wanted = ".".join(str(p) for p in table[major])
        return f"{engine_text} {version} cannot be exported; RDS exports {'.'.join(str(p) for p in major)} from {wanted}"
    return None


class InstanceSource(Source):
    kind = "instance"
    label = "DB instance"
    input_key = "db_instance_identifier"
    allowed_parameter = "AllowedDBInstanceIdentifiers"
    allowed_variable = "ALLOWED_DB_INSTANCES"
    identifier_max_length = naming.DB_INSTANCE_IDENTIFIER_MAX_LENGTH
    snapshot_resource = naming.DB_SNAPSHOT_RESOURCE
    # The model's wire codes are DBSnapshotNotFound and DBSnapshotAlreadyExists; moto answers a
    # missing DB snapshot with DBSnapshotNotFoundFault, so both spellings are read.
    snapshot_not_found_codes = frozenset({"DBSnapshotNotFound", "DBSnapshotNotFoundFault"})
    snapshot_exists_codes = frozenset({"DBSnapshotAlreadyExists", "DBSnapshotAlreadyExistsFault"})
    not_found_error = ("DBSnapshotNotFound", "DescribeDBSnapshots")
    not_allowed_error = DBInstanceNotAllowed
    describe_source = "describe_db_instances"
    source_list = "DBInstances"
    source_not_found_codes = INSTANCE_NOT_FOUND_CODES
    rds = RdsNames(
        describe="describe_db_snapshots",
        create="create_db_snapshot",
        delete="delete_db_snapshot",
        source_parameter="DBInstanceIdentifier",
        snapshot_parameter="DBSnapshotIdentifier",
        snapshot_list="DBSnapshots",
        snapshot_record="DBSnapshot",
        snapshot_arn="DBSnapshotArn",
    )

    def refuse_unexportable_source(self, source_identifier: str) -> None:
        try:
            found = self.rds_client().describe_db_instances(DBInstanceIdentifier=source_identifier)
        except ClientError as error:
            if error_code(error) in INSTANCE_NOT_FOUND_CODES:
                raise SourceCannotExport(f"DB instance {source_identifier} does not exist in this account and Region.") from error
            raise
        instance = (found.get("DBInstances") or [{}])[0]
        if instance.get("DBClusterIdentifier"):
            raise SourceCannotExport(
                f"DB instance {source_identifier} belongs to cluster {instance['DBClusterIdentifier']}: "
                "export the cluster (cluster_identifier) instead."
            )
        reason = export_refusal(instance.get("Engine"), instance.get("EngineVersion"), instance.get("StorageType"))
        if reason:
            raise SourceCannotExport(f"DB instance {source_identifier} cannot be exported: {reason}. Nothing was created.")

    def refuse_unexportable_snapshot(self, snapshot: SnapshotDescription) -> None:
        reason = export_refusal(snapshot.engine, snapshot.engine_version, snapshot.storage_type)
        if reason:
            raise SourceCannotExport(
                f"Snapshot {snapshot.identifier} of DB instance {snapshot.source_identifier} cannot be exported: {reason}."
            )


INSTANCE = InstanceSource()
