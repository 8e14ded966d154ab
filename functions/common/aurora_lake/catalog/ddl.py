"""The definition of one exported table: Athena DDL text and a Glue TableInput.

Both are built from the same columns, location and properties, so a table
created either way is the same table to Athena:

* ``create_table``: the ``CREATE EXTERNAL TABLE IF NOT EXISTS`` statement of a
  *versioned* table (one Athena DDL query per table and export). It is
  idempotent, so it can run twice: after a Lambda retry, a redrive, or when an
  invocation stops at its deadline with queries still running.
* ``glue_table_input``: the ``TableInput`` with which the *latest* table is
  re-pointed through the Glue Data Catalog API (UpdateTable, or CreateTable the
  first time). An UpdateTable replaces location and columns in one atomic
  write, where DDL would need DROP + CREATE (two queries, and a moment with no
  table). This is what ``STORED AS PARQUET`` means to Athena: the Parquet
  input/output formats and SerDe below, ``EXTERNAL_TABLE`` with
  ``EXTERNAL=TRUE``, and the table properties as ``Parameters``.

Names are never quoted in a TableInput: backticks are Athena DDL syntax, and
Glue takes the lower-case name itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aurora_lake.catalog.names import quote, quote_if_needed

# The export writes gzip-compressed Parquet (part-*.gz.parquet).
EXPORT_COMPRESSION = "GZIP"
# What Athena records in Glue for STORED AS PARQUET.
PARQUET_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
# Glue's limits on a column comment and a table description.
GLUE_COLUMN_COMMENT_CHARS = 255
GLUE_DESCRIPTION_CHARS = 2048


@dataclass(frozen=True)
class Column:
    name: str  # Athena spelling (lower case)
    type: str  # Athena type
    comment: str = ""  # the source database's type, shown by DESCRIBE


def string_literal(text: str) -> str:
    """A single-quoted DDL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def qualified(database: str, table: str) -> str:
    return f"{quote(database)}.{quote(table)}"


def table_properties(properties: Mapping[str, str] | None = None) -> dict[str, str]:
    """The table properties (TBLPROPERTIES / Glue Parameters) of an exported table."""
    return {"classification": "parquet", "parquet.compression": EXPORT_COMPRESSION, **(properties or {})}


def _check(table: str, columns: Sequence[Column], location: str) -> None:
    if not columns:
        raise ValueError(f"table {table} has no columns")
    if not location.startswith("s3://") or not location.endswith("/"):
        raise ValueError(f"location must be an s3:// prefix ending in '/': {location}")


def create_table(
    database: str,
    table: str,
    columns: Sequence[Column],
    location: str,
    comment: str = "",
    properties: Mapping[str, str] | None = None,
) -> str:
    """``CREATE EXTERNAL TABLE IF NOT EXISTS`` over the Parquet files under ``location``."""
    _check(table, columns, location)
    column_lines = ",\n".join(
        f"  {quote_if_needed(column.name)} {column.type}"
        + (f" COMMENT {string_literal(column.comment)}" if column.comment else "")
        for column in columns
    )
    props = table_properties(properties)
    prop_lines = ",\n".join(f"  {string_literal(key)}={string_literal(value)}" for key, value in props.items())
    lines = [
        f"CREATE EXTERNAL TABLE IF NOT EXISTS {qualified(database, table)} (",
        column_lines,
        ")",
    ]
    if comment:
        lines.append(f"COMMENT {string_literal(comment)}")
    lines += [
        "STORED AS PARQUET",
        f"LOCATION {string_literal(location)}",
        "TBLPROPERTIES (",
        prop_lines,
        ")",
    ]
    return "\n".join(lines)


def glue_table_input(
    table: str,
    columns: Sequence[Column],
    location: str,
    comment: str = "",
    properties: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The Glue ``TableInput`` of the same table ``create_table`` declares, for CreateTable/UpdateTable."""
    _check(table, columns, location)
    upper = [name for name in [table, *(column.name for column in columns)] if name != name.lower()]
    if upper:
        raise ValueError(f"Glue names must be lower case: {', '.join(upper)}")
    parameters = {"EXTERNAL": "TRUE", **table_properties(properties)}
    if comment:
        parameters["comment"] = comment
    table_input: dict[str, Any] = {
        "Name": table,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": parameters,
        "PartitionKeys": [],
        "StorageDescriptor": {
            "Columns": [
                {"Name": column.name, "Type": column.type}
                | ({"Comment": column.comment[:GLUE_COLUMN_COMMENT_CHARS]} if column.comment else {})
                for column in columns
            ],
            "Location": location,
            "InputFormat": PARQUET_INPUT_FORMAT,
            "OutputFormat": PARQUET_OUTPUT_FORMAT,
            "Compressed": False,
            "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"}},
        },
    }
    if comment:
        table_input["Description"] = comment[:GLUE_DESCRIPTION_CHARS]
    return table_input
