"""One Iceberg table per source table, one snapshot per export: the commit against moto's S3 and Glue.

The files are real Parquet as the emulated export writes them (RDS's types); every table is read
back through PyIceberg (the scan Athena's engine would plan: snapshot, manifests, name mapping).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from aurora_lake import clients
from aurora_lake.catalog import iceberg, names, ownership
from aurora_lake.catalog.iceberg_io import Boto3FileIO
from emulated_account import glue_sim
from emulated_account.data import Column
from emulated_account.export_writer import parquet_bytes

BUCKET = "lake-bucket"
DATABASE = "aurora_lake"
WAREHOUSE = f"s3://{BUCKET}/iceberg/"
STACK = ownership.stack_identity(DATABASE, BUCKET)
SOURCE = ownership.Source("123456789012", "cluster", "orders")
NAME = "orders__shop__users"
DAY = 86_400_000
T0 = int(dt.datetime(2026, 10, 1, 3, 0, tzinfo=dt.timezone.utc).timestamp() * 1000)

COLUMNS_1 = [
    Column("id", "bigint", "int64"),
    Column("Email", "varchar", "binary (UTF8)"),
    Column("login_count", "int", "int32"),
    Column("level", "smallint", "int32 (INT_16)"),
    Column("created_at", "datetime", "int64 (TIMESTAMP_MICRO)"),
    Column("balance", "decimal", "int64 (DECIMAL(18,2))"),
    Column("big", "bigint unsigned", "fixed_len_byte_array(9) (DECIMAL(20,0))"),
    Column("legacy_note", "text", "binary (UTF8)"),
]
ATHENA = {"int64": "bigint", "binary (UTF8)": "string", "int32": "int", "int32 (INT_16)": "smallint", "int64 (TIMESTAMP_MICRO)": "timestamp",
          "int64 (DECIMAL(18,2))": "decimal(18,2)", "fixed_len_byte_array(9) (DECIMAL(20,0))": "decimal(20,0)", "double": "double",
          "float": "float", "binary": "binary", "boolean": "boolean", "int32 (DATE)": "date", "int64 (DECIMAL(24,2))": "decimal(24,2)"}


@pytest.fixture
def lake(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    for name, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws(), glue_sim.installed():
        clients.reset()
        s3, glue = boto3.client("s3"), boto3.client("glue")
        s3.create_bucket(Bucket=BUCKET)
        glue.create_database(DatabaseInput={"Name": DATABASE})
        yield s3, glue
    clients.reset()


def put_export(s3: Any, export_id: str, columns: list[Column], parts: list[range], table: str = "shop.users") -> tuple[iceberg.ExportFile, ...]:
    files = []
    for number, rows in enumerate(parts):
        key = f"exports/{export_id}/shop/{table}/1/part-{number:05d}-x.gz.parquet"
        body = parquet_bytes(columns, rows)
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        files.append(iceberg.ExportFile(f"s3://{BUCKET}/{key}", len(body)))
    return tuple(files)


def table_export(s3: Any, export_id: str, when: int, columns: list[Column], parts: list[range]) -> iceberg.TableExport:
    return iceberg.TableExport(
        export_id=export_id, source_time_ms=when, export_started_ms=when + 600_000,
        columns=tuple(iceberg.ExportedColumn(c.name, ATHENA[c.exported_type], c.original_type) for c in columns),
        files=put_export(s3, export_id, columns, parts),
    )


def target(name: str = NAME) -> iceberg.Target:
    return iceberg.Target(DATABASE, name, WAREHOUSE, ownership.record(STACK, SOURCE, "shop.shop.users", ownership.LATEST, ""))


def load(glue: Any, name: str = NAME) -> Any:
    found = iceberg.read_glue_table(glue, DATABASE, name)
    assert found is not None and found.is_iceberg
    return iceberg.load_metadata(Boto3FileIO(), found.metadata_location)


def scan(metadata: Any, snapshot_id: int | None = None) -> Any:
    """The snapshot's rows as Athena's engine reads them (``lake_query``; compared with PyIceberg's own scan below)."""
    from emulated_account.lake_query import read_iceberg

    return read_iceberg(metadata, Boto3FileIO(), snapshot_id)


def test_two_exports_are_two_snapshots_at_source_time_each_holding_its_own_rows(lake: tuple[Any, Any]) -> None:
    s3, glue = lake
    committer = iceberg.Committer(glue, DATABASE, WAREHOUSE)
    first = committer.commit_export(target(), table_export(s3, "exp-1", T0, COLUMNS_1, [range(0, 100), range(100, 300)]))
    columns_2 = [Column("login_count", "bigint", "int64") if c.name == "login_count" else c for c in COLUMNS_1 if c.name != "legacy_note"]
    columns_2.append(Column("nickname", "varchar", "binary (UTF8)"))
    second = committer.commit_export(target(), table_export(s3, "exp-2", T0 + DAY, columns_2, [range(0, 120)]))

    assert (first.status, first.rows, first.previous_export) == ("created", 300, None)
    assert (second.status, second.rows, second.previous_export, second.previous_rows) == ("committed", 120, "exp-1", 300)
    assert second.added == ["nickname"] and second.dropped == ["legacy_note"]
    assert second.retyped == [{"column": "login_count", "from": "int", "to": "bigint"}]
    metadata = load(glue)
    assert [s.timestamp_ms for s in iceberg.ordered_snapshots(metadata)] == [T0, T0 + DAY]
    assert metadata.last_updated_ms == T0 + DAY and iceberg.java_ordering_problems(metadata) == []
    old, new = scan(metadata, first.snapshot_id), scan(metadata)
    assert old.num_rows == 300 and new.num_rows == 120
    assert "legacy_note" in old.column_names and "legacy_note" not in new.column_names
    # Read through the name mapping: "Email" in the files is column "email" of the table.
    assert old.column("email").null_count < old.num_rows and new.column("nickname").null_count < new.num_rows
    assert str(new.schema.field("login_count").type) == "int64"
    mapping = json.loads(metadata.properties["schema.name-mapping.default"])
    assert {"field-id": 2, "names": ["Email"]} in mapping
    parameters = glue.get_table(DatabaseName=DATABASE, Name=NAME)["Table"]["Parameters"]
    assert parameters["table_type"] == "ICEBERG" and parameters[ownership.EXPORT] == "exp-2"
    assert glue.get_table_versions(DatabaseName=DATABASE, TableName=NAME)["TableVersions"].__len__() == 1


def test_a_rerun_changes_nothing(lake: tuple[Any, Any]) -> None:
    s3, glue = lake
    committer = iceberg.Committer(glue, DATABASE, WAREHOUSE)
    export = table_export(s3, "exp-1", T0, COLUMNS_1, [range(0, 10)])
    committer.commit_export(target(), export)
    before = glue.get_table(DatabaseName=DATABASE, Name=NAME)["Table"]
    objects = s3.list_objects_v2(Bucket=BUCKET, Prefix="iceberg/")["KeyCount"]
    again = committer.commit_export(target(), export)
    assert again.status == "unchanged" and again.rows == 10
    after = glue.get_table(DatabaseName=DATABASE, Name=NAME)["Table"]
    assert after["VersionId"] == before["VersionId"] and s3.list_objects_v2(Bucket=BUCKET, Prefix="iceberg/")["KeyCount"] == objects


def test_an_older_export_is_inserted_in_source_order(lake: tuple[Any, Any]) -> None:
    s3, glue = lake
    committer = iceberg.Committer(glue, DATABASE, WAREHOUSE)
    for export_id, when, rows in (("exp-3", T0 + 2 * DAY, 30), ("exp-1", T0, 10), ("exp-2", T0 + DAY, 20), ("exp-0", T0 - DAY, 5)):
        committer.commit_export(target(), table_export(s3, export_id, when, COLUMNS_1, [range(0, rows)]))
    metadata = load(glue)
    ordered = iceberg.ordered_snapshots(metadata)
    assert [iceberg.export_of(s) for s in ordered] == ["exp-0", "exp-1", "exp-2", "exp-3"]
    assert [s.parent_snapshot_id for s in ordered] == [None, *[s.snapshot_id for s in ordered[:-1]]]
    assert metadata.current_snapshot_id == ordered[-1].snapshot_id and iceberg.java_ordering_problems(metadata) == []
    assert [scan(metadata, s.snapshot_id).num_rows for s in ordered] == [5, 10, 20, 30]
    assert [iceberg.snapshot_rows(s) for s in ordered] == [5, 10, 20, 30]


def test_a_stale_version_is_refused_by_glue_and_the_commit_is_made_again(lake: tuple[Any, Any]) -> None:
    s3, glue = lake
    committer = iceberg.Committer(glue, DATABASE, WAREHOUSE)
    committer.commit_export(target(), table_export(s3, "exp-1", T0, COLUMNS_1, [range(0, 10)]))
    stale = glue.get_table(DatabaseName=DATABASE, Name=NAME)["Table"]
    committer.commit_export(target(), table_export(s3, "exp-2", T0 + DAY, COLUMNS_1, [range(0, 20)]))
    with pytest.raises(glue.exceptions.ConcurrentModificationException):
        glue.update_table(DatabaseName=DATABASE, VersionId=stale["VersionId"], SkipArchive=True,
                          TableInput={"Name": NAME, "Parameters": stale["Parameters"], "StorageDescriptor": stale["StorageDescriptor"]})
    assert [iceberg.export_of(s) for s in iceberg.ordered_snapshots(load(glue))] == ["exp-1", "exp-2"]


def test_a_type_change_iceberg_cannot_take_archives_the_history_and_starts_again(lake: tuple[Any, Any]) -> None:
    s3, glue = lake
    committer = iceberg.Committer(glue, DATABASE, WAREHOUSE)
    committer.commit_export(target(), table_export(s3, "exp-1", T0, COLUMNS_1, [range(0, 10)]))
    changed = [Column("Email", "int", "int32") if c.name == "Email" else c for c in COLUMNS_1]
    outcome = committer.commit_export(target(), table_export(s3, "exp-2", T0 + DAY, changed, [range(0, 7)]))
    assert outcome.status == "archived" and outcome.archived_as == names.archived_table_name(NAME, 1)
    assert outcome.refused == [{"column": "Email", "from": "string", "to": "int"}]
    archived = load(glue, outcome.archived_as)
    assert [iceberg.export_of(s) for s in archived.snapshots] == ["exp-1"] and scan(archived).column("email").null_count < 10
    latest = load(glue)
    assert [iceberg.export_of(s) for s in latest.snapshots] == ["exp-2"] and str(scan(latest).schema.field("email").type) == "int32"
    assert glue.get_table(DatabaseName=DATABASE, Name=outcome.archived_as)["Table"]["Parameters"][ownership.TABLE_ROLE] == ownership.ARCHIVED


def test_expired_exports_leave_and_the_last_one_drops_the_table(lake: tuple[Any, Any]) -> None:
    s3, glue = lake
    committer = iceberg.Committer(glue, DATABASE, WAREHOUSE)
    committer.commit_export(target(), table_export(s3, "exp-1", T0, COLUMNS_1, [range(0, 10)]))
    committer.commit_export(target(), table_export(s3, "exp-2", T0 + DAY, COLUMNS_1, [range(0, 10)]))
    third = committer.commit_export(target(), table_export(s3, "exp-3", T0 + 2 * DAY, COLUMNS_1, [range(0, 10)]), expire_before_ms=T0 + DAY)
    assert third.removed_snapshots == 1
    assert [iceberg.export_of(s) for s in iceberg.ordered_snapshots(load(glue))] == ["exp-2", "exp-3"]
    assert committer.remove_exports(DATABASE, NAME, ["exp-2"], STACK) == "removed"
    assert [iceberg.export_of(s) for s in load(glue).snapshots] == ["exp-3"]
    assert committer.remove_exports(DATABASE, NAME, ["exp-3"], STACK) == "dropped"
    assert iceberg.read_glue_table(glue, DATABASE, NAME) is None
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="iceberg/")["KeyCount"] == 0
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="exports/")["KeyCount"] == 3  # the data files are never touched


PYICEBERG_SCAN = r"""
import json, os, sys
sys.path[:0] = sys.argv[1].split(os.pathsep)
os.environ.update(AWS_DEFAULT_REGION="us-east-1", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")
import boto3
from moto import mock_aws
from pyiceberg.table import StaticTable
from aurora_lake.catalog import iceberg, ownership
from aurora_lake.catalog.iceberg_io import Boto3FileIO
from emulated_account import glue_sim
from emulated_account.lake_query import read_iceberg
sys.path.insert(0, sys.argv[2])
import test_iceberg as t

with mock_aws(), glue_sim.installed():
    s3, glue = boto3.client("s3"), boto3.client("glue")
    s3.create_bucket(Bucket=t.BUCKET)
    glue.create_database(DatabaseInput={"Name": t.DATABASE})
    committer = iceberg.Committer(glue, t.DATABASE, t.WAREHOUSE)
    first = committer.commit_export(t.target(), t.table_export(s3, "exp-1", t.T0, t.COLUMNS_1, [range(0, 40), range(40, 90)]))
    changed = [c for c in t.COLUMNS_1 if c.name != "legacy_note"] + [t.Column("nickname", "varchar", "binary (UTF8)")]
    committer.commit_export(t.target(), t.table_export(s3, "exp-2", t.T0 + t.DAY, changed, [range(0, 30)]))
    metadata = t.load(glue)
    found = {}
    for snapshot in metadata.snapshots:
        ours = read_iceberg(metadata, Boto3FileIO(), snapshot.snapshot_id)
        theirs = StaticTable(("d", "t"), metadata, "x", Boto3FileIO(), None).scan(snapshot_id=snapshot.snapshot_id).to_arrow()
        found[str(snapshot.snapshot_id)] = [ours.column_names == theirs.column_names, ours.to_pylist() == theirs.to_pylist(), ours.num_rows]
print(json.dumps(found), flush=True)
os._exit(0)  # PyIceberg's scan started Arrow's thread pools: leave without their teardown
"""


def test_athenas_reading_in_the_emulated_account_is_pyicebergs_own_scan() -> None:
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-c", PYICEBERG_SCAN, f"{root}{':'}{root / 'functions' / 'common'}", str(Path(__file__).parent)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(rows for _, _, rows in found.values()) == [30, 90]
    assert all(same_columns and same_rows for same_columns, same_rows, _ in found.values()), found
