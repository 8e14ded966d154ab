"""Proof on real files: the declared Athena type is the one that reads the exported Parquet type.

Parquet files are written with the physical and logical types the export
documents, put in S3 in the export's layout, and read back with pyarrow (an
independent reader). From each column's schema the test builds the
expectedExportedType text the export would write, runs the planning step, and
checks the declared type against:
  1. a table of Parquet physical/logical type -> Athena type, and
  2. the Arrow type pyarrow reads for that column -> the Athena type that reads it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pyarrow as pa
import pytest
from moto import mock_aws

from aurora_lake import clients, clock
from aurora_lake.catalog.tables import Settings, plan_step
from emulated_account.parquet import read_parquet, write_parquet

BUCKET = "lake-bucket"
EXPORT_ID = "exp-types-1"
ROOT = f"exports/{EXPORT_ID}/"

# Columns as the export writes them (USER_ExportSnapshot data types).
COLUMNS: list[tuple[str, pa.DataType, list[Any]]] = [
    ("int_col", pa.int32(), [1, -2]),  # MySQL INT, YEAR; PostgreSQL INTEGER, SMALLINT
    ("bigint_col", pa.int64(), [2**40, -1]),  # BIGINT, INT UNSIGNED
    ("smallint_col", pa.int16(), [300, -3]),  # INT(16) annotation
    ("tinyint_col", pa.int8(), [7, -8]),  # INT(8) annotation
    ("float_col", pa.float32(), [1.5, 2.5]),
    ("double_col", pa.float64(), [1.25, 2.5]),  # MySQL FLOAT, DOUBLE
    ("bool_col", pa.bool_(), [True, False]),
    ("text_col", pa.string(), ["a", "é"]),  # TEXT, DATE/TIME as text, JSON, ENUM
    ("blob_col", pa.binary(), [b"\x00\x01", b""]),  # BLOB, BYTEA, BIT
    ("ts_col", pa.timestamp("us", tz="UTC"), [dt.datetime(2026, 11, 2, 3, 0, tzinfo=dt.timezone.utc)] * 2),  # DATETIME
    ("date_col", pa.date32(), [dt.date(2026, 11, 2)] * 2),
    ("dec_int32_col", pa.decimal128(9, 2), [Decimal("1234567.89"), Decimal("-1.00")]),
    ("dec_int64_col", pa.decimal128(18, 4), [Decimal("12345678901234.5678"), Decimal("0")]),
    ("dec_flba_col", pa.decimal128(20, 0), [Decimal("18446744073709551615"), Decimal("0")]),  # BIGINT UNSIGNED
    ("dec_wide_col", pa.decimal128(38, 10), [Decimal("1.5"), Decimal("-2")]),
]

# Independent table: how a Parquet column is typed, and the Athena type that reads it.
ATHENA_FOR_PARQUET = {
    ("INT32", "NONE"): "int",
    ("INT64", "NONE"): "bigint",
    ("INT32", "INT_16"): "smallint",
    ("INT32", "INT_8"): "tinyint",
    ("FLOAT", "NONE"): "float",
    ("DOUBLE", "NONE"): "double",
    ("BOOLEAN", "NONE"): "boolean",
    ("BYTE_ARRAY", "UTF8"): "string",
    ("BYTE_ARRAY", "NONE"): "binary",
    ("INT64", "TIMESTAMP_MICROS"): "timestamp",
    ("INT32", "DATE"): "date",
}


def athena_for_arrow(arrow_type: pa.DataType) -> str:
    """The Athena type whose values pyarrow reads as ``arrow_type``."""
    if pa.types.is_decimal(arrow_type):
        return f"decimal({arrow_type.precision},{arrow_type.scale})"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    return {
        pa.int8(): "tinyint", pa.int16(): "smallint", pa.int32(): "int", pa.int64(): "bigint",
        pa.float32(): "float", pa.float64(): "double", pa.bool_(): "boolean",
        pa.string(): "string", pa.binary(): "binary", pa.date32(): "date",
    }[arrow_type]


def exported_type_text(column: Any) -> str:
    """The expectedExportedType the export writes for a Parquet column (forms seen in real exports)."""
    physical = column.physical_type
    base = "fixed_len_byte_array" if physical == "FIXED_LEN_BYTE_ARRAY" else "binary" if physical == "BYTE_ARRAY" else physical.lower()
    if physical == "FIXED_LEN_BYTE_ARRAY":
        base += f"({column.length})"
    converted = column.converted_type
    if converted == "DECIMAL":
        return f"{base} (DECIMAL({column.precision},{column.scale}))"
    if converted == "TIMESTAMP_MICROS":
        return f"{base} (TIMESTAMP_MICRO)"
    if converted in ("INT_8", "INT_16"):
        return f"{base} (INT({converted[4:]}))"
    if converted in ("UTF8", "DATE"):
        return f"{base} ({converted})"
    assert converted == "NONE", converted
    return base


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "POWERTOOLS_TRACE_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        clients.reset()
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        boto3.client("glue").create_database(DatabaseInput={"Name": "lake"})  # the plan reads its owners
        yield client
    clients.reset()


def test_declared_types_read_the_exported_parquet_types(s3: Any) -> None:
    table = pa.table({name: pa.array(values, type=kind) for name, kind, values in COLUMNS})
    # As the export writes: gzip, microsecond timestamps, small decimals on int32/int64.
    body = write_parquet(table, compression="gzip", coerce_timestamps="us", store_decimal_as_integer=True)
    data_key = f"{ROOT}mydb/public.Type_Zoo/1/part-00000-3f0c6a.gz.parquet"
    s3.put_object(Bucket=BUCKET, Key=data_key, Body=body)

    # Read the file back from S3 with pyarrow, independently of the code under test.
    parquet = read_parquet(s3.get_object(Bucket=BUCKET, Key=data_key)["Body"].read())
    schema, arrow_schema = parquet.schema, parquet.table.schema
    physical = {schema.column(i).name: schema.column(i).physical_type for i in range(len(schema))}
    # The file really carries the documented physical types.
    assert physical["dec_int32_col"] == "INT32" and physical["dec_int64_col"] == "INT64"
    assert physical["dec_flba_col"] == "FIXED_LEN_BYTE_ARRAY" and physical["ts_col"] == "INT64"
    assert physical["smallint_col"] == physical["tinyint_col"] == physical["date_col"] == "INT32"

    expected_from_file: dict[str, str] = {}
    mappings = []
    for i in range(len(schema)):
        column = schema.column(i)
        if column.converted_type == "DECIMAL":
            expected = f"decimal({column.precision},{column.scale})"
        else:
            expected = ATHENA_FOR_PARQUET[(column.physical_type, column.converted_type)]
        assert expected == athena_for_arrow(arrow_schema.field(column.name).type), column.name
        expected_from_file[column.name] = expected
        mappings.append({"columnName": column.name, "originalType": "test", "expectedExportedType": exported_type_text(column)})
    assert len(expected_from_file) == len(COLUMNS)

    s3.put_object(Bucket=BUCKET, Key=f"{ROOT}export_tables_info_{EXPORT_ID}_from_1_to_1.json", Body=json.dumps({"perTableStatus": [
        {"target": "mydb.public.Type_Zoo", "status": "COMPLETE", "schemaMetadata": {"originalTypeMappings": mappings}}
    ]}).encode())
    state = {"job": {"cluster_identifier": "demo-aurora-cluster", "account": "123456789012"},
             "export": {"export_task_identifier": EXPORT_ID, "s3_bucket": BUCKET, "s3_prefix": "exports/", "status": "COMPLETE",
                        "snapshot_time": "2026-11-02T03:00:00.000Z", "task_start_time": "2026-11-02T03:05:00.000Z"}}
    settings = Settings(glue_database="lake", workgroup="wg")
    result = plan_step(state, settings)
    plan = json.loads(s3.get_object(Bucket=BUCKET, Key=result["plan_key"])["Body"].read())
    (entry,) = plan["tables"]
    assert {name: kind for name, kind, _ in entry["columns"]} == expected_from_file
    # Every file of the table's folder (batch folders included), never the metadata files.
    assert [uri for uri, _ in entry["files"]] == [f"s3://{BUCKET}/{data_key}"]

    # Registered as an Iceberg table, the file reads back through PyIceberg with each column's value.
    from aurora_lake.catalog import iceberg
    from aurora_lake.catalog.iceberg_io import Boto3FileIO
    from aurora_lake.catalog.tables import commit_step
    from emulated_account.lake_query import read_iceberg

    commit_step(result, plan, settings, deadline=clock.now() + 600)
    found = iceberg.read_glue_table(boto3.client("glue"), "lake", entry["latest"])
    assert found is not None and found.is_iceberg
    scanned = read_iceberg(iceberg.load_metadata(Boto3FileIO(), found.metadata_location), Boto3FileIO())
    for name, _, values in COLUMNS:
        assert scanned.column(name).to_pylist() == values, name
