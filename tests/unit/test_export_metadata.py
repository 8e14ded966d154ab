"""Reading the export's metadata files: several files, skipped tables, bad files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from aurora_lake.errors import ExportMetadataInvalid
from aurora_lake.export_metadata import (
    EXPORT_LEVEL,
    ExportedColumn,
    ExportLocation,
    SkippedTable,
    place_target,
    read_export_metadata,
    skipped_from_warning,
    target_folders,
    target_readings,
)

BUCKET = "lake-bucket"
EXPORT_ID = "exp-20261102"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


def table(target: str, *columns: tuple[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "target": target,
        "status": "COMPLETE",
        "sizeGB": 0.5,
        "tableStatistics": {"extractedRowCount": 3},
        "schemaMetadata": {"originalTypeMappings": [
            {"columnName": name, "originalType": "x", "expectedExportedType": exported,
             "originalCharMaxLength": 0, "originalNumPrecision": 0, "originalDateTimePrecision": 0}
            for name, exported in columns
        ]},
        **extra,
    }


def put(s3: Any, name: str, document: Any, root: str = f"exports/{EXPORT_ID}/") -> None:
    body = document if isinstance(document, str) else json.dumps(document)
    s3.put_object(Bucket=BUCKET, Key=root + name, Body=body.encode())


def test_tables_from_every_file_in_numeric_order(s3: Any) -> None:
    put(s3, f"export_info_{EXPORT_ID}.json", {"exportTaskIdentifier": EXPORT_ID, "status": "COMPLETE"})
    # "from_11" sorts before "from_2" as text: the order must be numeric.
    put(s3, f"export_tables_info_{EXPORT_ID}_from_11_to_12.json", {"perTableStatus": [table("mydb.public.c", ("id", "int64"))]})
    put(s3, f"export_tables_info_{EXPORT_ID}_from_1_to_10.json", {"perTableStatus": [
        table("mydb.public.a", ("id", "int64"), ("Name", "binary (UTF8)")),
        {"target": "mydb.public.skipped", "status": "SKIPPED", "warningMessage": "column name contains a space"},
    ]})
    put(s3, f"export_tables_info_{EXPORT_ID}_from_2_to_10.json", {"perTableStatus": [table("mydb.public.b", ("id", "int32"))]})
    # Files that are not this export's metadata, and the table data, are ignored.
    put(s3, "export_tables_info_other-export_from_1_to_1.json", {"perTableStatus": [table("x.y.z", ("id", "int64"))]})
    put(s3, "mydb/public.a/1/part-00000-abc.gz.parquet", "not read")

    metadata = read_export_metadata(s3, ExportLocation.of(BUCKET, "exports/", EXPORT_ID))

    assert [t.target for t in metadata.tables] == ["mydb.public.a", "mydb.public.b", "mydb.public.c"]
    assert metadata.tables[0].columns == (ExportedColumn("id", "int64", "x"), ExportedColumn("Name", "binary (UTF8)", "x"))
    assert (metadata.tables[0].database, metadata.tables[0].schema, metadata.tables[0].table) == ("mydb", "public", "a")
    assert metadata.skipped == [SkippedTable("mydb.public.skipped", "column name contains a space")]
    assert metadata.info == {"exportTaskIdentifier": EXPORT_ID, "status": "COMPLETE"}
    assert metadata.files == [
        f"exports/{EXPORT_ID}/export_info_{EXPORT_ID}.json",
        f"exports/{EXPORT_ID}/export_tables_info_{EXPORT_ID}_from_1_to_10.json",
        f"exports/{EXPORT_ID}/export_tables_info_{EXPORT_ID}_from_2_to_10.json",
        f"exports/{EXPORT_ID}/export_tables_info_{EXPORT_ID}_from_11_to_12.json",
    ]


def test_a_failed_or_unknown_status_is_a_skipped_table(s3: Any) -> None:
    put(s3, f"export_tables_info_{EXPORT_ID}_from_1_to_3.json", {"perTableStatus": [
        table("mydb.public.ok", ("id", "int64"), status="complete"),
        table("mydb.public.failed", ("id", "int64"), status="FAILED"),
        table("mydb.public.nostatus", ("id", "int64"), status=None),
    ]})
    metadata = read_export_metadata(s3, ExportLocation.of(BUCKET, "exports/", EXPORT_ID))
    assert [t.target for t in metadata.tables] == ["mydb.public.ok"]
    assert metadata.skipped == [
        SkippedTable("mydb.public.failed", "export status FAILED"),
        SkippedTable("mydb.public.nostatus", "export status (none)"),
    ]


def test_empty_prefix_and_prefix_without_slash(s3: Any) -> None:
    put(s3, f"export_tables_info_{EXPORT_ID}_from_1_to_1.json", {"perTableStatus": [table("shop.orders", ("id", "int64"))]}, root=f"{EXPORT_ID}/")
    location = ExportLocation.of(BUCKET, "", EXPORT_ID)
    metadata = read_export_metadata(s3, location)
    assert metadata.tables[0].schema == "shop"
    assert location.table_uri("shop", "shop", "orders") == f"s3://{BUCKET}/{EXPORT_ID}/shop/shop.orders/"
    assert ExportLocation.of(BUCKET, "aurora/full", EXPORT_ID).root_key == f"aurora/full/{EXPORT_ID}/"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "no export_tables_info"),
        ({f"export_tables_info_{EXPORT_ID}_from_1_to_1.json": "{not json"}, "is not JSON"),
        ({f"export_tables_info_{EXPORT_ID}_from_1_to_1.json": {"tables": []}}, "no perTableStatus"),
        ({f"export_tables_info_{EXPORT_ID}_from_1_to_1.json": {"perTableStatus": [{"status": "COMPLETE"}]}}, "has no target"),
        ({f"export_tables_info_{EXPORT_ID}_from_1_to_1.json": {"perTableStatus": [table("mydb.public.t")]}}, "has no schemaMetadata"),
        ({f"export_tables_info_{EXPORT_ID}_from_1_to_1.json": {"perTableStatus": [
            {"target": "mydb.public.t", "status": "COMPLETE", "schemaMetadata": {"originalTypeMappings": [{"columnName": "id"}]}}]}},
         "without columnName/expectedExportedType"),
        ({f"export_info_{EXPORT_ID}.json": {"exportTaskIdentifier": "someone-else"},
          f"export_tables_info_{EXPORT_ID}_from_1_to_1.json": {"perTableStatus": []}}, "describes export 'someone-else'"),
    ],
)
def test_unexpected_metadata_fails_loudly(s3: Any, files: dict[str, Any], message: str) -> None:
    for name, document in files.items():
        put(s3, name, document)
    with pytest.raises(ExportMetadataInvalid, match=message):
        read_export_metadata(s3, ExportLocation.of(BUCKET, "exports/", EXPORT_ID))


def test_place_target() -> None:
    assert place_target("mydb.public.users") == ("mydb", "public", "users")
    assert place_target("shop.orders") == ("shop", "shop", "orders")
    assert place_target("shop.shop.orders") == ("shop", "shop", "orders")
    # A name holding a dot, or an empty one: which part is which cannot be known.
    for unplaceable in ("db.s.a.b", "mydb.public.x.", "mydb..x", ".t", "mydb.", "mydb", "", "a.b.c.d.e"):
        assert place_target(unplaceable) is None, unplaceable


def test_every_reading_of_a_target_and_every_folder_it_may_lie_in() -> None:
    # Schema "a.b" with table "c" and schema "a" with table "b.c" are both "mydb.a.b.c".
    readings = set(target_readings("mydb.a.b.c"))
    assert {("mydb", "a.b", "c"), ("mydb", "a", "b.c"), ("mydb.a", "b", "c"), ("mydb", "mydb", "a.b.c")} <= readings
    assert all(".".join((d, t) if s == d and f"{d}.{t}" == "mydb.a.b.c" else (d, s, t)) == "mydb.a.b.c" for d, s, t in readings)
    assert set(target_readings("mydb.public.x.")) == {("mydb", "public", "x."), ("mydb", "mydb", "public.x."), ("mydb.public", "mydb.public", "x.")}
    # RDS writes a table into DATABASE/SCHEMA.TABLE/. A catalogued table's database has no dot: every
    # reading whose database is the target's first part lies in one of the target's folders.
    location = ExportLocation.of(BUCKET, "", EXPORT_ID)
    for target in ("mydb.a.b.c", "mydb.public.x.", "my db.x y.z.w", "mydb.public.t/1.x", "shop.a.b"):
        folders = set(target_folders(target))
        for database, schema, table in target_readings(target):
            if database == target.split(".")[0]:
                assert location.table_key(database, schema, table)[len(EXPORT_ID) + 1:] in folders, (target, schema, table)
    assert "my_db/x_y.z.w/" in target_folders("my db.x y.z.w")
    # Two folders at most, whatever the dots: an export of hostile names stays small to check.
    assert len(target_folders("d" + ".x" * 90)) == 2 and target_folders(".x.y") == () and target_folders("mydb") == ()


def test_names_the_metadata_cannot_place_are_reported_never_raised(s3: Any) -> None:
    put(s3, f"export_tables_info_{EXPORT_ID}_from_1_to_3.json", {"perTableStatus": [
        table("mydb.public.ok", ("id", "int64")),
        table("mydb.public.x.", ("id", "int64")),
        table("mydb.a.b.c", ("id", "int64")),
        table("mydb.public.twice", ("id", "int64")),
    ]})
    put(s3, f"export_tables_info_{EXPORT_ID}_from_4_to_6.json", {"perTableStatus": [
        table("mydb.a.b.c", ("other", "binary (UTF8)")),
        table("mydb.public.twice", ("id", "int64")),
        {"target": "mydb.public.skipped", "status": "SKIPPED", "warningMessage": "temporary table"},
        {"target": "mydb.public.skipped", "status": "SKIPPED", "warningMessage": "temporary table"},
    ]})
    metadata = read_export_metadata(s3, ExportLocation.of(BUCKET, "exports/", EXPORT_ID))
    assert [t.target for t in metadata.tables] == ["mydb.public.ok"]
    assert metadata.skipped == [SkippedTable("mydb.public.skipped", "temporary table")]
    unplaced = {item.target: item for item in metadata.unplaced}
    assert list(unplaced) == ["mydb.public.x.", "mydb.a.b.c", "mydb.public.twice"]
    assert "cannot tell which table it is" in unplaced["mydb.public.x."].reason
    assert "lists 2 tables as mydb.a.b.c" in unplaced["mydb.a.b.c"].reason
    assert 'schema "a.b", table "c"' in unplaced["mydb.a.b.c"].reason and 'schema "a", table "b.c"' in unplaced["mydb.a.b.c"].reason
    # Listed twice alike is still two entries for one target: which files are whose cannot be known.
    assert "lists 2 tables as mydb.public.twice" in unplaced["mydb.public.twice"].reason
    assert "mydb/a.b.c/" in unplaced["mydb.a.b.c"].folders and "mydb/public.twice/" in unplaced["mydb.public.twice"].folders


def test_export_warning_message_lists_what_is_missing() -> None:
    warning = json.dumps({
        "skippedTables": [{"target": "mydb.public.big", "reason": "ROW_TOO_LARGE"}, "mydb.public.tmp"],
        "skippedObjectives": [],
        "general": [{"reason": "FAILED_TO_EXTRACT_TABLES_LIST_FOR_DATABASE"}],
    })
    assert skipped_from_warning(warning) == [
        SkippedTable("mydb.public.big", "ROW_TOO_LARGE"),
        SkippedTable("mydb.public.tmp", "skippedTables"),
        SkippedTable(EXPORT_LEVEL, "FAILED_TO_EXTRACT_TABLES_LIST_FOR_DATABASE"),
    ]
    # A message in no known form still counts.
    assert skipped_from_warning("something odd") == [SkippedTable(EXPORT_LEVEL, "something odd")]
    assert skipped_from_warning('{"skippedTables": []}') == [SkippedTable(EXPORT_LEVEL, '{"skippedTables": []}')]
    assert skipped_from_warning(None) == [] and skipped_from_warning("") == []
