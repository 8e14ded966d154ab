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


# --- finding a snapshot by name: every lookup form ------------------------------------------

BACKUP_JOB = "awsbackup:job-3f6c2a1e-8b4d-4c57-9e21-7a0d5b9c4e18"
BACKUP_COPY = "awsbackup:copyjob-0a11a6db-c3d8-45ab-9f8e-8b5e0a11a6db"


class RecordingRds:
    """DescribeDB(Cluster)Snapshots of one snapshot, answering only the lookup forms given.

    Every call is checked against botocore's model (parameter names and types) and recorded.
    ``answers`` holds the SnapshotType values (None: no SnapshotType) that find the snapshot;
    ``refuses`` those RDS rejects as an invalid parameter.
    """

    def __init__(self, source: sources.Source, name: str, snapshot_type: str, answers: set[str | None], refuses: frozenset[str] = frozenset()) -> None:
        import botocore.session

        self.model = botocore.session.get_session().get_service_model("rds")
        self.source, self.name, self.answers, self.refuses = source, name, answers, refuses
        names = source.rds
        self.record = {names.snapshot_parameter: name, names.snapshot_arn: source.snapshot_arn("aws", "us-east-1", ACCOUNT, name),
                       names.source_parameter: "orders", "Status": "available", "SnapshotType": snapshot_type, "Engine": "postgres"}
        self.calls: list[dict[str, object]] = []

    def _describe(self, operation: str, params: dict[str, object]) -> dict[str, object]:
        from botocore.exceptions import ClientError
        from botocore.validate import validate_parameters

        validate_parameters(params, self.model.operation_model(operation).input_shape)
        self.calls.append(params)
        wanted = params.get("SnapshotType")
        if wanted in self.refuses:
            raise ClientError({"Error": {"Code": "InvalidParameterValue", "Message": f"Invalid snapshot type {wanted}"}}, operation)
        if params[self.source.rds.snapshot_parameter] == self.name and wanted in self.answers:
            return {self.source.rds.snapshot_list: [self.record]}
        code, _ = self.source.not_found_error
        raise ClientError({"Error": {"Code": code, "Message": f"{self.name} not found"}}, operation)

    def describe_db_snapshots(self, **params: object) -> dict[str, object]:
        return self._describe("DescribeDBSnapshots", params)

    def describe_db_cluster_snapshots(self, **params: object) -> dict[str, object]:
        return self._describe("DescribeDBClusterSnapshots", params)


def _lookup(monkeypatch: pytest.MonkeyPatch, source: sources.Source, rds: RecordingRds) -> sources.SnapshotDescription | None:
    monkeypatch.setattr(type(source), "rds_client", lambda self: rds)
    return source.describe_snapshot(rds.name)


@pytest.mark.parametrize("source", [sources.INSTANCE, sources.CLUSTER], ids=["DB snapshot", "cluster snapshot"])
@pytest.mark.parametrize("name", [BACKUP_JOB, BACKUP_COPY], ids=["backup job", "copy job"])
def test_an_aws_backup_snapshot_is_found_by_its_name_alone_as_aws_sample_finds_it(
    monkeypatch: pytest.MonkeyPatch, source: sources.Source, name: str
) -> None:
    # AWS's export sample describes an AWS Backup DB snapshot by DBSnapshotIdentifier alone; the
    # model asks for SnapshotType only for automated snapshots.
    rds = RecordingRds(source, name, "awsbackup", answers={None})
    found = _lookup(monkeypatch, source, rds)
    assert found is not None and found.identifier == name and found.source_identifier == "orders"
    assert rds.calls == [{source.rds.snapshot_parameter: name}]


@pytest.mark.parametrize("source", [sources.INSTANCE, sources.CLUSTER], ids=["DB snapshot", "cluster snapshot"])
def test_an_aws_backup_snapshot_found_only_with_its_type_is_found_on_the_second_lookup(
    monkeypatch: pytest.MonkeyPatch, source: sources.Source
) -> None:
    rds = RecordingRds(source, BACKUP_JOB, "awsbackup", answers={"awsbackup"})
    found = _lookup(monkeypatch, source, rds)
    assert found is not None and found.identifier == BACKUP_JOB
    parameter = source.rds.snapshot_parameter
    assert rds.calls == [{parameter: BACKUP_JOB}, {parameter: BACKUP_JOB, "SnapshotType": "awsbackup"}]


@pytest.mark.parametrize("source", [sources.INSTANCE, sources.CLUSTER], ids=["DB snapshot", "cluster snapshot"])
def test_a_missing_recovery_point_is_not_found_even_where_rds_refuses_the_type(monkeypatch: pytest.MonkeyPatch, source: sources.Source) -> None:
    # The model documents "awsbackup" for DB snapshots only: should RDS refuse it for a cluster
    # snapshot, the name lookup has already said the snapshot does not exist.
    rds = RecordingRds(source, "awsbackup:job-somewhere-else", "awsbackup", answers={None}, refuses=frozenset({"awsbackup"}))
    monkeypatch.setattr(type(source), "rds_client", lambda self: rds)
    assert source.describe_snapshot(BACKUP_JOB) is None
    assert [call.get("SnapshotType") for call in rds.calls] == [None, "awsbackup"]


@pytest.mark.parametrize("source", [sources.INSTANCE, sources.CLUSTER], ids=["DB snapshot", "cluster snapshot"])
@pytest.mark.parametrize(("name", "snapshot_type", "lookup"), [
    ("rds:orders-2026-11-01-03-10", "automated", {"SnapshotType": "automated"}),  # required by the model
    ("orders-manual-2026-11-01", "manual", {}),
])
def test_automated_and_manual_snapshots_take_one_lookup(
    monkeypatch: pytest.MonkeyPatch, source: sources.Source, name: str, snapshot_type: str, lookup: dict[str, str]
) -> None:
    rds = RecordingRds(source, name, snapshot_type, answers={lookup.get("SnapshotType")})
    assert _lookup(monkeypatch, source, rds) is not None
    assert rds.calls == [{source.rds.snapshot_parameter: name, **lookup}]
