"""The kinds of export source: which one a job or an ARN names, and what RDS can export."""

from __future__ import annotations

import pytest

from aurora_lake import sources
from aurora_lake.catalog.types import athena_type
from aurora_lake.sources.instance import export_refusal

ACCOUNT = "123456789012"


def test_a_job_or_an_arn_names_its_kind() -> None:
    assert sources.of_job({"source_kind": "instance"}) is sources.INSTANCE
    assert sources.of_job({"cluster_identifier": "orders"}) is sources.CLUSTER  # jobs of earlier versions
    assert sources.of_snapshot_arn(f"arn:aws:rds:us-east-1:{ACCOUNT}:snapshot:rds:orders-db-2026-11-01-04-20") is sources.INSTANCE
    assert sources.of_snapshot_arn(f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:orders-1") is sources.CLUSTER
    with pytest.raises(ValueError, match="'db'"):
        sources.of_snapshot_arn(f"arn:aws:rds:us-east-1:{ACCOUNT}:db:orders-db")
    with pytest.raises(ValueError, match="unknown source kind 'table'"):
        sources.of_kind("table")


def test_what_an_export_task_reads() -> None:
    base = f"arn:aws:rds:us-east-1:{ACCOUNT}"
    assert sources.of_export_source_arn(f"{base}:cluster:orders") == (sources.CLUSTER, "orders", False)
    assert sources.of_export_source_arn(f"{base}:cluster-snapshot:rds:orders-1") == (sources.CLUSTER, "rds:orders-1", True)
    assert sources.of_export_source_arn(f"{base}:snapshot:awsbackup:job-1") == (sources.INSTANCE, "awsbackup:job-1", True)
    assert sources.of_export_source_arn(f"{base}:db:orders-db") is None
    assert sources.of_export_source_arn("not an arn") is None


def test_only_clusters_export_directly_and_each_kind_names_its_parameter() -> None:
    assert sources.CLUSTER.exports_directly and not sources.INSTANCE.exports_directly
    with pytest.raises(NotImplementedError, match="DB instance cannot be exported without a snapshot"):
        sources.INSTANCE.export_source_arn("aws", "us-east-1", ACCOUNT, "orders-db")
    assert (sources.CLUSTER.allowed_parameter, sources.INSTANCE.allowed_parameter) == ("AllowedClusterIdentifiers", "AllowedDBInstanceIdentifiers")
    assert sources.INSTANCE.snapshot_arn("aws", "us-east-1", ACCOUNT, "x") == f"arn:aws:rds:us-east-1:{ACCOUNT}:snapshot:x"


def test_allowed_lists_are_read_per_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_CLUSTERS", "orders")
    monkeypatch.setenv("ALLOWED_DB_INSTANCES", "")
    assert sources.CLUSTER.allowed() == frozenset({"orders"})
    assert sources.INSTANCE.allowed() == frozenset()
    # A cluster of the same name never lets a DB instance through.
    assert not sources.INSTANCE.is_allowed("orders", sources.INSTANCE.allowed())
    assert sources.CLUSTER.is_allowed("Orders", sources.CLUSTER.allowed())


@pytest.mark.parametrize(
    ("engine", "version", "storage", "fragment"),
    [
        ("custom-sqlserver-ee", "15.00.4345.5.v1", "gp3", "RDS Custom"),
        ("custom-oracle-ee", "19.c", "gp3", "RDS Custom"),
        ("db2-se", "11.5.9.0.sb00000000.r1", "gp3", "'db2-se' cannot be exported"),
        ("oracle-ee", "19.0.0.0.ru-2024-01.rur-2024-01.r1", "gp3", "'oracle-ee' cannot be exported"),
        ("sqlserver-ex", "15.00.4345.5.v1", "gp3", "'sqlserver-ex' cannot be exported"),
        ("aurora-postgresql", "16.4", "aurora", "'aurora-postgresql' cannot be exported"),
        ("mysql", "5.7.23", "gp3", "mysql 5.7.23 cannot be exported; RDS exports 5.7 from 5.7.24"),
        ("mysql", "5.5.62", "gp3", "older than every version"),
        ("mariadb", "10.2.11", "gp3", "from 10.2.12"),
        ("postgres", "9.6.10", "gp3", "from 9.6.12"),
        ("postgres", "10.6", "gp3", "from 10.7"),
        ("postgres", "16.4", "standard", "magnetic storage"),
        ("postgres", "latest", "gp3", "not a version"),
        (None, None, None, "None cannot be exported"),
    ],
)
def test_what_rds_cannot_export_is_named(engine: str, version: str, storage: str, fragment: str) -> None:
    reason = export_refusal(engine, version, storage)
    assert reason is not None and fragment in reason, reason


@pytest.mark.parametrize(
    ("engine", "version"),
    [("mysql", "8.0.39"), ("mysql", "8.4.3"), ("mysql", "5.7.24"), ("mysql", "5.6.40"), ("mariadb", "10.11.9"),
     ("mariadb", "10.3.39"), ("mariadb", "11.4.3"), ("mariadb", "10.0.32"), ("postgres", "16.4"), ("postgres", "9.6.8"),
     ("postgres", "9.6.12"), ("postgres", "11.2"), ("postgres", "17.2"), ("MySQL", "8.0.35")],
)
def test_what_rds_exports_is_accepted(engine: str, version: str) -> None:
    assert export_refusal(engine, version, "gp3") is None


@pytest.mark.parametrize(
    ("exported", "expected"),
    [
        # RDS for MySQL and MariaDB (the guide's shared table), RDS for PostgreSQL.
        ("int32", "int"), ("int64", "bigint"), ("double", "double"), ("float", "float"), ("boolean", "boolean"),
        ("binary", "binary"), ("binary (UTF8)", "string"), ("int64 (TIMESTAMP_MICRO)", "timestamp"),
        ("fixed_len_byte_array(9) (DECIMAL(20,0))", "decimal(20,0)"), ("int64 (DECIMAL(12,2))", "decimal(12,2)"),
        ("int32 (INT_16)", "smallint"),
    ],
)
def test_db_instance_column_types_map_with_the_same_rule(exported: str, expected: str) -> None:
    assert athena_type(exported) == expected
