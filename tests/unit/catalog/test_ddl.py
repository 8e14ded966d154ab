"""The exact DDL text of a table."""

from __future__ import annotations

import pytest

from aurora_lake.catalog.ddl import Column, create_table, glue_table_input


def test_create_table_text() -> None:
    ddl = create_table(
        "aurora_lake",
        "c__mydb__public__ledger_entries",
        [Column("id", "bigint", "bigint"), Column("date", "date"), Column("amount", "decimal(12,2)", "numeric(12,2)")],
        "s3://bucket/exports/exp-1/mydb/public.Ledger_Entries/",
        comment="mydb.public.Ledger_Entries from Aurora export exp-1",
        properties={"aurora_lake.export_task_identifier": "exp-1"},
    )
    assert ddl == (
        "CREATE EXTERNAL TABLE IF NOT EXISTS `aurora_lake`.`c__mydb__public__ledger_entries` (\n"
        "  id bigint COMMENT 'bigint',\n"
        "  `date` date,\n"
        "  amount decimal(12,2) COMMENT 'numeric(12,2)'\n"
        ")\n"
        "COMMENT 'mydb.public.Ledger_Entries from Aurora export exp-1'\n"
        "STORED AS PARQUET\n"
        "LOCATION 's3://bucket/exports/exp-1/mydb/public.Ledger_Entries/'\n"
        "TBLPROPERTIES (\n"
        "  'classification'='parquet',\n"
        "  'parquet.compression'='GZIP',\n"
        "  'aurora_lake.export_task_identifier'='exp-1'\n"
        ")"
    )


def test_quotes_in_literals_are_escaped() -> None:
    ddl = create_table("db", "t", [Column("o'k", "string", "it's \\ text")], "s3://b/it's/")
    assert "  `o'k` string COMMENT 'it\\'s \\\\ text'" in ddl
    assert "LOCATION 's3://b/it\\'s/'" in ddl


def test_glue_table_input_is_the_same_table_unquoted() -> None:
    table_input = glue_table_input(
        "c__mydb__public__ledger_entries",
        [Column("id", "bigint", "bigint"), Column("date", "date"), Column("1st", "decimal(12,2)", "numeric(12,2)")],
        "s3://bucket/exports/exp-1/mydb/public.Ledger_Entries/",
        comment="mydb.public.Ledger_Entries from Aurora export exp-1",
        properties={"aurora_lake.export_task_identifier": "exp-1"},
    )
    assert table_input == {
        "Name": "c__mydb__public__ledger_entries",
        "Description": "mydb.public.Ledger_Entries from Aurora export exp-1",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "EXTERNAL": "TRUE",
            "classification": "parquet",
            "parquet.compression": "GZIP",
            "aurora_lake.export_task_identifier": "exp-1",
            "comment": "mydb.public.Ledger_Entries from Aurora export exp-1",
        },
        "PartitionKeys": [],
        "StorageDescriptor": {
            "Columns": [
                {"Name": "id", "Type": "bigint", "Comment": "bigint"},
                {"Name": "date", "Type": "date"},
                {"Name": "1st", "Type": "decimal(12,2)", "Comment": "numeric(12,2)"},
            ],
            "Location": "s3://bucket/exports/exp-1/mydb/public.Ledger_Entries/",
            "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
            "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
            "Compressed": False,
            "SerdeInfo": {
                "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                "Parameters": {"serialization.format": "1"},
            },
        },
    }


def test_glue_names_must_be_lower_case() -> None:
    with pytest.raises(ValueError, match="lower case: Id"):
        glue_table_input("t", [Column("Id", "int")], "s3://b/p/")
    with pytest.raises(ValueError, match="lower case: T"):
        glue_table_input("T", [Column("id", "int")], "s3://b/p/")


def test_glue_comments_are_cut_to_glue_limits() -> None:
    table_input = glue_table_input("t", [Column("id", "int", "x" * 400)], "s3://b/p/", comment="y" * 3000)
    assert len(table_input["StorageDescriptor"]["Columns"][0]["Comment"]) == 255
    assert len(table_input["Description"]) == 2048


@pytest.mark.parametrize("location", ["s3://b/exp/mydb/public.t", "b/exp/mydb/public.t/"])
def test_location_must_be_a_prefix(location: str) -> None:
    with pytest.raises(ValueError):
        create_table("db", "t", [Column("id", "int")], location)
    with pytest.raises(ValueError):
        glue_table_input("t", [Column("id", "int")], location)


def test_a_table_needs_columns() -> None:
    with pytest.raises(ValueError):
        create_table("db", "t", [], "s3://b/p/")
    with pytest.raises(ValueError):
        glue_table_input("t", [], "s3://b/p/")
