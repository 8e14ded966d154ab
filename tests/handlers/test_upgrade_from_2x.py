"""A 2.x deployment upgraded: its latest tables become Iceberg tables in place, its history stays readable.

2.x kept, per source table, a *latest* Hive table over the newest export and one *versioned*
Hive table per export, and a ledger entry per export (``athena-catalog/<export id>.json``). Here
those are written as 2.x wrote them; the 3.x step then exports the same source.
"""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import boto3
import pytest

from aurora_lake import clients
from aurora_lake.catalog import names, ownership

from .test_create_athena_tables import (  # noqa: F401  (lake is a fixture)
    ACCOUNT,
    BUCKET,
    CLUSTER,
    DATABASE,
    USERS,
    USERS_LATEST,
    Lake,
    exports_of_table,
    glue_table,
    glue_tables,
    lake,
    query,
    run_until_done,
    state,
    write_export,
)

PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", "Parameters": {"serialization.format": "1"}},
}
VERSIONED = names.versioned_table_name(CLUSTER, "mydb", "public", "users", "exp-0")
STACK = ownership.stack_identity(DATABASE, BUCKET)
SOURCE = ownership.Source(ACCOUNT, "cluster", CLUSTER)


def a_2x_deployment() -> None:
    """What 2.x left after exporting the users table once, as exp-0 (10 rows)."""
    write_export("exp-0", [[USERS]], rows=10)
    glue = boto3.client("glue")
    location = f"s3://{BUCKET}/exports/exp-0/mydb/public.users/"
    columns = [{"Name": "user_id", "Type": "int", "Comment": "integer"}, {"Name": "created", "Type": "timestamp", "Comment": "timestamp"}]
    record = ownership.record(STACK, SOURCE, "mydb.public.users", ownership.LATEST, "exp-0")
    glue.create_table(DatabaseName=DATABASE, TableInput={
        "Name": USERS_LATEST, "TableType": "EXTERNAL_TABLE", "PartitionKeys": [],
        "Parameters": {"EXTERNAL": "TRUE", "classification": "parquet", **record, "aurora_lake.versioned_table": VERSIONED},
        "StorageDescriptor": {"Columns": columns, "Location": location, **PARQUET}})
    glue.create_table(DatabaseName=DATABASE, TableInput={
        "Name": VERSIONED, "TableType": "EXTERNAL_TABLE", "PartitionKeys": [],
        "Parameters": {"EXTERNAL": "TRUE", "classification": "parquet",
                       **ownership.record(STACK, SOURCE, "mydb.public.users", ownership.VERSIONED, "exp-0")},
        "StorageDescriptor": {"Columns": columns, "Location": location, **PARQUET}})
    boto3.client("s3").put_object(Bucket=BUCKET, Key="athena-catalog/exp_0.json", Body=json.dumps(
        {"export_task_identifier": "exp-0", "export_root": f"s3://{BUCKET}/exports/exp-0/", "glue_database": DATABASE}).encode())


def test_the_latest_table_is_converted_in_place_and_the_versioned_tables_stay_readable(lake: Lake) -> None:
    a_2x_deployment()
    before = glue_table(USERS_LATEST)
    assert query(f'SELECT count(*) FROM "{DATABASE}"."{USERS_LATEST}"') == [[10]]  # a saved query, on 2.x
    write_export("exp-1", [[USERS]], rows=4)
    final = run_until_done(lake, state("exp-1", snapshot_time="2026-11-03T03:00:00.000Z"))[-1]

    after = glue_table(USERS_LATEST)
    # The same Glue table (moved by one UpdateTable at the version read), now an Iceberg table.
    assert after["CreateTime"] == before["CreateTime"] and after["Parameters"]["table_type"] == "ICEBERG"
    assert "aurora_lake.versioned_table" not in after["Parameters"]
    assert exports_of_table(USERS_LATEST) == ["exp-1"]
    report = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=final["report_key"])["Body"].read())
    assert [t["status"] for t in report["tables"]] == ["converted"]
    # The same saved query reads the new export; exp-0 is still its versioned table, untouched.
    assert query(f'SELECT count(*) FROM "{DATABASE}"."{USERS_LATEST}"') == [[4]]
    assert query(f'SELECT count(*) FROM "{DATABASE}"."{VERSIONED}"') == [[10]]
    assert glue_table(VERSIONED)["StorageDescriptor"] == before["StorageDescriptor"]


def test_a_conversion_that_fails_leaves_the_2x_table_as_it_was(lake: Lake) -> None:
    a_2x_deployment()
    before = glue_table(USERS_LATEST)
    write_export("exp-1", [[USERS]], rows=4)
    glue = clients.client("glue")
    real_update = glue.update_table

    def failing_update(**kwargs: Any) -> Any:
        if kwargs["TableInput"]["Name"] == USERS_LATEST:
            raise glue.exceptions.InternalServiceException({"Error": {"Code": "InternalServiceException", "Message": "try again"}}, "UpdateTable")
        return real_update(**kwargs)

    with mock.patch.object(glue, "update_table", failing_update), pytest.raises(Exception) as raised:
        run_until_done(lake, state("exp-1", snapshot_time="2026-11-03T03:00:00.000Z"))
    assert type(raised.value).__name__ == "InternalServiceException"
    assert glue_table(USERS_LATEST) == before and query(f'SELECT count(*) FROM "{DATABASE}"."{USERS_LATEST}"') == [[10]]
    # The metadata files the failed commit wrote are gone; the run, started again, converts the table.
    assert boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="iceberg/").get("KeyCount") == 0
    run_until_done(lake, {**state("exp-1", snapshot_time="2026-11-03T03:00:00.000Z"), "athena": None})
    assert glue_table(USERS_LATEST)["Parameters"]["table_type"] == "ICEBERG"


def test_a_2x_versioned_table_is_dropped_once_its_export_expires(lake: Lake) -> None:
    a_2x_deployment()
    write_export("exp-1", [[USERS]], rows=4)
    run_until_done(lake, state("exp-1", snapshot_time="2026-11-03T03:00:00.000Z"))
    s3 = boto3.client("s3")
    for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="exports/exp-0/")["Contents"]:
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    write_export("exp-2", [[USERS]], rows=2)
    final = run_until_done(lake, state("exp-2", snapshot_time="2026-11-04T03:00:00.000Z"))[-1]
    assert final["retention"]["exports_gone"] == ["exp-0"] and final["retention"]["tables_dropped"] == 1
    assert VERSIONED not in glue_tables() and exports_of_table(USERS_LATEST) == ["exp-1", "exp-2"]
