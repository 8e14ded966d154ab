"""Query the data lake a run built, locally: DuckDB over the exported Parquet files.

Each table a query names is read through the definition the workflow gave it in
the Glue catalog (its columns, their declared types, its location), not through
what the files say, as Athena does. Before anything runs, every declared column
is checked against the files: the column must be in them (Athena would read a
missing one as NULL), and DuckDB must be able to read the file's type as the
declared one (an implicit cast: a 64-bit integer declared ``int`` fails). A
column that fails ends the query with ``DeclaredTypeError`` naming the table and
the column.

DuckDB is a development dependency: the functions never import this module.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import io
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

# The notification's "Query it in Athena" statement.
_SAMPLE_QUERY = re.compile(r"^\s*(SELECT\b.*;)\s*$", re.IGNORECASE | re.MULTILINE)
_S3_URI = re.compile(r"^s3://([^/]+)/(.*)$")
# How the demo prints a result: DuckDB's own table drawing, kept small.
DISPLAY_WIDTH, DISPLAY_ROWS, DISPLAY_COLUMN_WIDTH = 120, 20, 32


class DeclaredTypeError(Exception):
    """A declared column that the exported files cannot back."""

    def __init__(self, database: str, table: str, column: str, problem: str) -> None:
        super().__init__(f"table {database}.{table}, column {column}: {problem}")
        self.table = f"{database}.{table}"
        self.column = column


class LakeQueryError(Exception):
    """The query itself failed (a syntax error, an unknown table, a failed cast of a value)."""


@dataclass(frozen=True)
class QueryResult:
    sql: str
    columns: list[str]
    rows: list[list[Any]]
    table: str = ""  # the result as DuckDB draws it: names, types, at most DISPLAY_ROWS rows

    def as_json(self) -> dict[str, Any]:
        return {"sql": self.sql, "columns": self.columns, "rows": self.rows}


def sample_query(message: str) -> str | None:
    """The SELECT a success notification suggests, or None when it suggests none."""
    found = _SAMPLE_QUERY.search(message)
    return found.group(1) if found else None


def sample_queries(message: str) -> list[str]:
    """Every SELECT a notification suggests, in order (a fleet's suggests one per exported source)."""
    return list(dict.fromkeys(found.group(1) for found in _SAMPLE_QUERY.finditer(message)))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _glue_tables(glue: Any) -> dict[str, list[dict[str, Any]]]:
    tables: dict[str, list[dict[str, Any]]] = {}
    for page in glue.get_paginator("get_databases").paginate():
        for database in page["DatabaseList"]:
            found = tables.setdefault(database["Name"], [])
            for table_page in glue.get_paginator("get_tables").paginate(DatabaseName=database["Name"]):
                found.extend(table_page["TableList"])
    return tables


def _named_in(sql: str, name: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", sql, re.IGNORECASE) is not None


def _parquet_files(s3: Any, location: str, directory: Path) -> list[str]:
    """Download the table's data files (Athena skips names starting with ``_`` or ``.``)."""
    match = _S3_URI.match(location)
    if not match:
        raise LakeQueryError(f"table location {location!r} is not an s3:// URI")
    bucket, prefix = match.group(1), match.group(2)
    paths = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            name = item["Key"].rsplit("/", 1)[-1]
            if name.startswith(("_", ".")) or item["Key"].endswith("/"):
                continue
            path = directory / f"{len(paths):05d}.parquet"
            path.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            paths.append(str(path))
    return paths


def _duckdb_type(connection: Any, declared: str) -> str | None:
    import duckdb

    try:
        return connection.execute(f"SELECT typeof(CAST(NULL AS {declared}))").fetchone()[0]
    except duckdb.Error:  # a parser or binder error: DuckDB has no such type
        return None


def register_table(connection: Any, s3: Any, database: str, table: dict[str, Any], directory: Path) -> None:
    """Create ``"database"."table"`` as a view over the files, typed as the catalog declares."""
    import duckdb

    name = table["Name"]
    if table.get("PartitionKeys"):
        raise LakeQueryError(f"table {database}.{name} is partitioned; the local query reads unpartitioned tables only")
    descriptor = table.get("StorageDescriptor") or {}
    columns = descriptor.get("Columns") or []
    files = _parquet_files(s3, descriptor.get("Location", ""), directory)
    file_types: dict[str, tuple[str, str]] = {}
    source = "(SELECT 1) AS no_files WHERE false"
    if files:
        source = f"read_parquet([{', '.join(_literal(path) for path in files)}], union_by_name = true)"
        for row in connection.execute(f"DESCRIBE SELECT * FROM {source}").fetchall():
            file_types[row[0].lower()] = (row[0], row[1])
    selected = []
    for column in columns:
        column_name, declared = column["Name"], column["Type"]
        wanted = _duckdb_type(connection, declared)
        if wanted is None:
            raise DeclaredTypeError(database, name, column_name, f"DuckDB cannot read the declared type {declared!r}")
        if not files:
            selected.append(f"CAST(NULL AS {declared}) AS {_quote(column_name)}")
            continue
        if column_name.lower() not in file_types:
            raise DeclaredTypeError(
                database, name, column_name, f"declared {declared}, but the table's Parquet files have no such column (Athena would read NULL)"
            )
        file_name, file_type = file_types[column_name.lower()]
        try:
            readable = connection.execute(f"SELECT can_cast_implicitly(CAST(NULL AS {file_type}), CAST(NULL AS {declared}))").fetchone()[0]
        except duckdb.Error as exc:
            raise DeclaredTypeError(database, name, column_name, f"declared {declared}, files hold {file_type}: {exc}") from None
        if not readable:
            raise DeclaredTypeError(
                database, name, column_name, f"declared {declared} ({wanted}), but the Parquet files hold {file_type}, which DuckDB cannot read as {wanted}"
            )
        selected.append(f"CAST({_quote(file_name)} AS {declared}) AS {_quote(column_name)}")
    if not selected:
        raise DeclaredTypeError(database, name, "(none)", "the table declares no columns")
    connection.execute(f"CREATE VIEW {_quote(database)}.{_quote(name)} AS SELECT {', '.join(selected)} FROM {source}")


def json_value(value: Any) -> Any:
    """A query value as JSON can hold it."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)


def run_query(sql: str, glue: Any, s3: Any, default_database: str | None = None) -> QueryResult:
    """Run ``sql`` over the tables of the Glue catalog that it names; their files are read from S3."""
    import duckdb

    connection = duckdb.connect()
    try:
        with tempfile.TemporaryDirectory(prefix="aurora-lake-query-") as scratch:
            for database, tables in _glue_tables(glue).items():
                connection.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(database)}")
                for table in tables:
                    if _named_in(sql, table["Name"]):
                        directory = Path(scratch) / database / table["Name"]
                        directory.mkdir(parents=True)
                        register_table(connection, s3, database, table, directory)
            if default_database:  # Athena's QueryExecutionContext: unqualified names resolve here
                connection.execute(f"SET search_path = {_literal(default_database)}")
            try:
                relation = connection.sql(sql)
                if relation is None:  # a statement without a result
                    return QueryResult(sql, [], [])
                rows = [[json_value(value) for value in row] for row in relation.fetchall()]
                drawn = io.StringIO()
                with contextlib.redirect_stdout(drawn):
                    relation.show(max_width=DISPLAY_WIDTH, max_rows=DISPLAY_ROWS, max_col_width=DISPLAY_COLUMN_WIDTH)
            except duckdb.Error as exc:
                raise LakeQueryError(f"{sql}: {exc}") from None
            return QueryResult(sql, list(relation.columns), rows, drawn.getvalue().rstrip("\n"))
    finally:
        connection.close()


__all__: Sequence[str] = ["DeclaredTypeError", "LakeQueryError", "QueryResult", "run_query", "sample_query"]
