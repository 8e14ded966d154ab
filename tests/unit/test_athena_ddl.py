"""The exact DDL text of a table."""

from __future__ import annotations

import pytest

from aurora_lake.athena_ddl import Column, create_table, drop_table


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


def test_drop_table_text() -> None:
    assert drop_table("aurora_lake", "c__mydb__users") == "DROP TABLE IF EXISTS `aurora_lake`.`c__mydb__users`"


@pytest.mark.parametrize("location", ["s3://b/exp/mydb/public.t", "b/exp/mydb/public.t/"])
def test_location_must_be_a_prefix(location: str) -> None:
    with pytest.raises(ValueError):
        create_table("db", "t", [Column("id", "int")], location)


def test_a_table_needs_columns() -> None:
    with pytest.raises(ValueError):
        create_table("db", "t", [], "s3://b/p/")
