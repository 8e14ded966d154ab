"""CreateSnapshot, CheckSnapshot, StartExport and CleanUpSnapshot on RDS DB instances, against moto."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from aurora_lake import errors

from .conftest import ACCOUNT, REGION, job, load_handler

create = load_handler("create_snapshot")
check = load_handler("check_snapshot")
cleanup = load_handler("delete_snapshot")

DB_SNAPSHOT_ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:"


def instance_job(instance: str = "orders-db", **overrides: Any) -> dict[str, Any]:
    return job(**{"source_kind": "instance", "source_identifier": instance, "cluster_identifier": None, "db_instance_identifier": instance,
                  "snapshot_identifier": f"{instance}-lake-abc123", **overrides})


def _instance(identifier: str, engine: str = "postgres", version: str = "16.4", storage: str = "gp3") -> None:
    boto3.client("rds").create_db_instance(
        DBInstanceIdentifier=identifier, DBInstanceClass="db.t4g.medium", Engine=engine, EngineVersion=version,
        AllocatedStorage=20, StorageType=storage, MasterUsername="admin_user", MasterUserPassword="not-a-real-password-1",
        **({"Port": 1433} if "sqlserver" in engine else {}),
    )


def manual_db_snapshots() -> list[str]:
    found = boto3.client("rds").describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    return sorted(snapshot["DBSnapshotIdentifier"] for snapshot in found)


@pytest.fixture
def allowed(environment: Any) -> None:
    environment(ALLOWED_CLUSTERS="orders-db", ALLOWED_DB_INSTANCES="orders-db,legacy-db,custom-db,old-pg-db")


def test_a_db_instance_snapshot_is_taken_once_checked_and_deleted(aws: None, allowed: None, context: object) -> None:
    _instance("orders-db")
    first = create.lambda_handler({"job": instance_job()}, context)
    second = create.lambda_handler({"job": instance_job()}, context)  # a retried step adopts it
    assert manual_db_snapshots() == ["orders-db-lake-abc123"]
    assert first["snapshot_arn"] == second["snapshot_arn"] == DB_SNAPSHOT_ARN + "orders-db-lake-abc123"
    assert (first["source_kind"], first["source_identifier"], first["source_cluster_identifier"]) == ("instance", "orders-db", None)
    checked = check.lambda_handler({"job": instance_job(), "snapshot": first}, context)
    assert checked["status"] == "available" and checked["engine"] == "postgres"
    done = cleanup.lambda_handler({"job": instance_job(), "snapshot": checked}, context)
    assert done["deleted"] is True and manual_db_snapshots() == []


@pytest.mark.parametrize(
    ("engine", "version", "storage", "fragment"),
    [("custom-sqlserver-ee", "15.00.4345.5.v1", "gp3", "RDS Custom"), ("oracle-ee", "19.0.0.0.ru-2024-01.rur-2024-01.r1", "gp3", "oracle-ee"),
     ("postgres", "9.6.10", "gp3", "from 9.6.12"), ("mysql", "8.0.35", "standard", "magnetic storage")],
)
def test_what_rds_cannot_export_is_refused_before_a_snapshot_is_taken(
    aws: None, allowed: None, context: object, engine: str, version: str, storage: str, fragment: str
) -> None:
    _instance("legacy-db", engine, version, storage)
    with pytest.raises(errors.SourceCannotExport, match=fragment):
        create.lambda_handler({"job": instance_job("legacy-db")}, context)
    assert manual_db_snapshots() == []


def test_a_db_instance_that_does_not_exist_is_named(aws: None, allowed: None, context: object) -> None:
    with pytest.raises(errors.SourceCannotExport, match="old-pg-db does not exist"):
        create.lambda_handler({"job": instance_job("old-pg-db")}, context)


def test_a_db_snapshot_of_our_name_taken_of_another_instance_is_an_error(aws: None, allowed: None, context: object) -> None:
    _instance("orders-db")
    _instance("legacy-db")
    boto3.client("rds").create_db_snapshot(DBInstanceIdentifier="legacy-db", DBSnapshotIdentifier="orders-db-lake-abc123")
    with pytest.raises(errors.SnapshotSourceMismatch, match="DB instance legacy-db"):
        create.lambda_handler({"job": instance_job()}, context)


def test_a_given_db_snapshot_of_an_instance_not_allowed_is_refused(aws: None, environment: Any, context: object) -> None:
    environment(ALLOWED_CLUSTERS="other-db", ALLOWED_DB_INSTANCES="orders-db")
    _instance("other-db")
    boto3.client("rds").create_db_snapshot(DBInstanceIdentifier="other-db", DBSnapshotIdentifier="other-db-manual-1")
    given = job(source_kind="instance", source_identifier=None, cluster_identifier=None, snapshot_mode="existing",
                snapshot_identifier="other-db-manual-1", snapshot_arn=DB_SNAPSHOT_ARN + "other-db-manual-1")
    # The cluster list names "other-db" too: a cluster's permission never covers a DB instance.
    with pytest.raises(errors.DBInstanceNotAllowed, match="AllowedDBInstanceIdentifiers"):
        check.lambda_handler({"job": given}, context)


def test_a_missing_db_snapshot_fails_with_rds_s_own_code(aws: None, allowed: None, context: object) -> None:
    given = job(source_kind="instance", cluster_identifier=None, snapshot_mode="existing", snapshot_identifier="gone",
                snapshot_arn=DB_SNAPSHOT_ARN + "gone")
    with pytest.raises(errors.AwsServiceError, match="does not exist") as raised:
        check.lambda_handler({"job": given}, context)
    assert type(raised.value).__name__ == "DBSnapshotNotFound"


def test_the_newest_automated_db_snapshot_is_found(aws: None, allowed: None, context: object) -> None:
    _instance("orders-db")
    given = instance_job(snapshot_mode="latest_automated", snapshot_identifier=None)
    checked = check.lambda_handler({"job": given}, context)
    assert checked["snapshot_identifier"].startswith("rds:orders-db-") and checked["snapshot_type"] == "automated"
    assert checked["created_by_this_run"] is False


def test_after_a_failure_only_this_run_s_db_snapshot_is_deleted(aws: None, allowed: None, context: object) -> None:
    _instance("orders-db")
    create.lambda_handler({"job": instance_job()}, context)
    failed = {"job": instance_job(), "failure": {"step": "StartExport", "error": "X", "cause": "y"}}
    assert cleanup.lambda_handler(failed, context)["deleted"] is True
    assert manual_db_snapshots() == []
    given = instance_job(snapshot_mode="existing")
    assert cleanup.lambda_handler({**failed, "job": given}, context)["reason"] == "this execution creates no snapshot"
