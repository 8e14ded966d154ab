"""Athena DDL text for one exported table.

Every statement is idempotent (``IF NOT EXISTS`` / ``IF EXISTS``) so that any
of them can run twice: after a Lambda retry, a redrive, or when an invocation
stops at its deadline with queries still running.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aurora_lake.athena_names import quote, quote_if_needed

# The export writes gzip-compressed Parquet (part-*.gz.parquet).
EXPORT_COMPRESSION = "GZIP"


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


def create_table(
    database: str,
    table: str,
    columns: Sequence[Column],
    location: str,
    comment: str = "",
    properties: Mapping[str, str] | None = None,
) -> str:
    """``CREATE EXTERNAL TABLE IF NOT EXISTS`` over the Parquet files under ``location``."""
    if not columns:
        raise ValueError(f"table {table} has no columns")
    if not location.startswith("s3://") or not location.endswith("/"):
        raise ValueError(f"location must be an s3:// prefix ending in '/': {location}")
    column_lines = ",\n".join(
        f"  {quote_if_needed(column.name)} {column.type}"
        + (f" COMMENT {string_literal(column.comment)}" if column.comment else "")
        for column in columns
    )
    props = {"classification": "parquet", "parquet.compression": EXPORT_COMPRESSION, **(properties or {})}
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


def drop_table(database: str, table: str) -> str:
    return f"DROP TABLE IF EXISTS {qualified(database, table)}"
