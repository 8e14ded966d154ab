"""Query the data lake a run built, locally: DuckDB over what the Glue catalog says, as Athena reads it.

Each table a query names is read through its definition in the Glue catalog, as Athena does:

* an **Iceberg table** (``table_type=ICEBERG``) through its metadata with PyIceberg: the snapshot
  a ``FOR VERSION AS OF <snapshot id>`` or ``FOR TIMESTAMP AS OF TIMESTAMP '...'`` clause names
  (resolved as Trino does: the snapshot log entry with the greatest time at or before it; none is
  an error), else the current one, scanned through the name mapping into Arrow, then queried by
  DuckDB. ``"table$history"`` and ``"table$snapshots"`` are the table's history and snapshots.
  ``ignore_name_mapping=True`` reads as an engine without name-mapping support would (every column
  of a file without field ids NULL): what the Athena simulator's fault answers with.
* a **Parquet table** (2.x versioned tables) over its files, with its declared columns and types:
  before anything runs, every declared column is checked against the files (a missing one would
  read as NULL; a type DuckDB cannot read as declared fails), ``DeclaredTypeError`` naming them.
* a **JSON table** (the drift log) over its JSON Lines files, with its declared columns.

DuckDB's iceberg extension is not used: the only build on PyPI needs another DuckDB and reads
files without field ids as NULL (FIDELITY.md). DuckDB and this module are development
dependencies: the functions never import them.
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


def _is_iceberg(table: dict[str, Any]) -> bool:
    parameters = table.get("Parameters") or {}
    return str(parameters.get("table_type", "")).upper() == "ICEBERG" and bool(parameters.get("metadata_location"))


def _is_json(table: dict[str, Any]) -> bool:
    serde = ((table.get("StorageDescriptor") or {}).get("SerdeInfo") or {}).get("SerializationLibrary") or ""
    return "json" in serde.lower()


_HIVE_SIMPLE = {"string": "VARCHAR", "bigint": "BIGINT", "int": "INTEGER", "boolean": "BOOLEAN", "double": "DOUBLE", "timestamp": "TIMESTAMP"}


def duckdb_type(hive: str) -> str:
    """The DuckDB type of a Glue (Hive) column type: the simple ones, arrays and structs of them."""
    text = hive.strip()
    lower = text.lower()
    if lower in _HIVE_SIMPLE:
        return _HIVE_SIMPLE[lower]
    if lower.startswith("array<") and lower.endswith(">"):
        return duckdb_type(text[6:-1]) + "[]"
    if lower.startswith("struct<") and lower.endswith(">"):
        fields, depth, current = [], 0, ""
        for ch in text[7:-1] + ",":
            if ch == "," and depth == 0:
                name, _, kind = current.partition(":")
                fields.append(f"{_quote(name.strip())} {duckdb_type(kind)}")
                current = ""
                continue
            depth += ch == "<"
            depth -= ch == ">"
            current += ch
        return f"STRUCT({', '.join(fields)})"
    raise LakeQueryError(f"the local query does not read the Glue type {hive!r}")


def register_json_table(connection: Any, s3: Any, database: str, table: dict[str, Any], directory: Path) -> None:
    """``"database"."table"`` as a view over the table's JSON Lines files, with its declared columns."""
    descriptor = table.get("StorageDescriptor") or {}
    columns = {column["Name"]: duckdb_type(column["Type"]) for column in descriptor.get("Columns") or []}
    match = _S3_URI.match(descriptor.get("Location", ""))
    if not match:
        raise LakeQueryError(f"table location {descriptor.get('Location')!r} is not an s3:// URI")
    bucket, prefix = match.group(1), match.group(2)
    paths = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].rsplit("/", 1)[-1].startswith(("_", ".")) or item["Key"].endswith("/"):
                continue
            path = directory / f"{len(paths):05d}.json"
            path.write_bytes(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
            paths.append(str(path))
    spec = "{" + ", ".join(f"{_literal(name)}: {_literal(kind)}" for name, kind in columns.items()) + "}"
    if paths:
        source = f"read_json([{', '.join(_literal(p) for p in paths)}], format = 'newline_delimited', columns = {spec})"
    else:
        source = "(SELECT " + ", ".join(f"CAST(NULL AS {kind}) AS {_quote(name)}" for name, kind in columns.items()) + " WHERE false)"
    connection.execute(f"CREATE VIEW {_quote(database)}.{_quote(table['Name'])} AS SELECT * FROM {source}")


# -- Iceberg tables ----------------------------------------------------------------------------------

_IDENTIFIER = r'(?:"(?:[^"]|"")+"|[A-Za-z_][\w$]*)'
_REFERENCE = re.compile(
    rf"(?<![\w.\"])(?:(?P<db>{_IDENTIFIER})\s*\.\s*)?(?P<table>{_IDENTIFIER})"
    r"(?:\s+FOR\s+(?P<kind>TIMESTAMP|VERSION)\s+AS\s+OF\s+(?P<value>TIMESTAMP\s*'[^']*'|'[^']*'|-?\d+))?",
    re.IGNORECASE,
)
_METADATA_TABLES = ("history", "snapshots")


def _unquote(identifier: str | None) -> str | None:
    if identifier is None:
        return None
    if identifier.startswith('"'):
        return identifier[1:-1].replace('""', '"')
    return identifier.lower()


def _timestamp_ms(value: str) -> int:
    """Athena's ``TIMESTAMP '2026-11-02 03:00:00 UTC'`` (no zone: UTC) as epoch milliseconds."""
    text = re.sub(r"^TIMESTAMP\s*", "", value.strip(), flags=re.IGNORECASE).strip("'").strip()
    zone = dt.timezone.utc
    for suffix in (" UTC", " Z", "Z"):
        if text.upper().endswith(suffix):
            text = text[: -len(suffix)].strip()
    try:
        moment = dt.datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        raise LakeQueryError(f"the local query reads TIMESTAMP 'YYYY-MM-DD HH:MM:SS[.fff] [UTC]' literals, not {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return int(round(moment.timestamp() * 1000))


def read_iceberg(metadata: Any, io: Any, snapshot_id: int | None = None, ignore_name_mapping: bool = False) -> Any:
    """A snapshot's rows (None: the current one's), read as Trino's Iceberg connector reads files without field ids.

    Each of the snapshot schema's fields binds the file column whose name (lower-cased) is one
    of the name mapping's names for it (lower-cased), else reads as NULL; without a mapping every
    field reads as NULL (``ignore_name_mapping``: an engine without name-mapping support). The
    files are read with ``emulated_account.parquet`` (no Arrow thread pool: see that module).
    """
    import pyarrow as pa
    from pyiceberg.io.pyarrow import schema_to_pyarrow
    from pyiceberg.table.name_mapping import parse_mapping_from_json

    from emulated_account.parquet import read_parquet

    if snapshot_id is None:
        snapshot_id = metadata.current_snapshot_id
    snapshot = metadata.snapshot_by_id(snapshot_id) if snapshot_id is not None and snapshot_id >= 0 else None
    schema = metadata.schema() if snapshot is None else next(
        (s for s in metadata.schemas if s.schema_id == snapshot.schema_id), metadata.schema())
    wanted = schema_to_pyarrow(schema, include_field_ids=False)
    if snapshot is None:
        return pa.Table.from_batches([], schema=wanted)
    mapping_text = metadata.properties.get("schema.name-mapping.default")
    names: dict[int, set[str]] = {}
    if mapping_text and not ignore_name_mapping:
        for mapped in parse_mapping_from_json(mapping_text).root:
            if mapped.field_id is not None:
                names[mapped.field_id] = {name.lower() for name in mapped.names}
    parts = []
    for manifest in snapshot.manifests(io):
        for entry in manifest.fetch_manifest_entry(io, discard_deleted=True):
            with io.new_input(entry.data_file.file_path).open() as stream:
                contents = read_parquet(stream.read())
            by_name = {column.lower(): column for column in contents.table.column_names}
            arrays = []
            for field, target in zip(schema.fields, wanted):
                found = next((by_name[n] for n in sorted(names.get(field.field_id, ())) if n in by_name), None)
                if found is None:
                    arrays.append(pa.nulls(contents.table.num_rows, type=target.type))
                else:
                    arrays.append(contents.table.column(found).cast(target.type))
            parts.append(pa.Table.from_arrays(arrays, schema=wanted))
    return pa.concat_tables(parts) if parts else pa.Table.from_batches([], schema=wanted)



def iceberg_snapshots(table: dict[str, Any]) -> list[tuple[str | None, list[str]]]:
    """An Iceberg Glue table's history, oldest source time first: each snapshot's export and data files."""
    from aurora_lake.catalog.iceberg import export_of, load_metadata, ordered_snapshots
    from aurora_lake.catalog.iceberg_io import Boto3FileIO

    io = Boto3FileIO()
    history = []
    for snapshot in ordered_snapshots(load_metadata(io, table["Parameters"]["metadata_location"])):
        files = sorted(entry.data_file.file_path for manifest in snapshot.manifests(io)
                       for entry in manifest.fetch_manifest_entry(io, discard_deleted=True))
        history.append((export_of(snapshot), files))
    return history


def iceberg_data_files(table: dict[str, Any]) -> list[str]:
    """The data files of an Iceberg Glue table's newest snapshot (what a plain SELECT reads)."""
    history = iceberg_snapshots(table)
    return history[-1][1] if history else []


class _IcebergReader:
    """Iceberg tables of the catalog, read with PyIceberg through a boto3 FileIO (every S3 call through moto)."""

    def __init__(self, tables: dict[str, dict[str, Any]], ignore_name_mapping: bool = False) -> None:
        self.tables = tables  # "database.table" -> Glue table
        self.ignore_name_mapping = ignore_name_mapping
        self._loaded: dict[str, Any] = {}

    def table(self, key: str) -> Any:
        if key not in self._loaded:
            from pyiceberg.table import StaticTable

            from aurora_lake.catalog.iceberg import load_metadata
            from aurora_lake.catalog.iceberg_io import Boto3FileIO

            io = Boto3FileIO()
            location = self.tables[key]["Parameters"]["metadata_location"]
            self._loaded[key] = StaticTable(tuple(key.split(".", 1)), load_metadata(io, location), location, io, None)  # type: ignore[arg-type]
        return self._loaded[key]

    def snapshot_id(self, key: str, kind: str | None, value: str | None) -> int | None:
        table = self.table(key)
        if kind is None:
            current = table.metadata.current_snapshot_id
            return None if current is None or current < 0 else current
        if kind.upper() == "VERSION":
            wanted = int(value or 0)
            if table.metadata.snapshot_by_id(wanted) is None:
                raise LakeQueryError(f"Iceberg snapshot ID does not exist: {wanted} (table {key})")
            return wanted
        when = _timestamp_ms(value or "")
        found = None
        for entry in table.metadata.snapshot_log:  # Trino: the newest snapshot log entry at or before the time
            if entry.timestamp_ms <= when and (found is None or entry.timestamp_ms >= found.timestamp_ms):
                found = entry
        if found is None:
            raise LakeQueryError(f"No version history table {key} at or before {dt.datetime.fromtimestamp(when / 1000, tz=dt.timezone.utc)}")
        return int(found.snapshot_id)

    def arrow(self, key: str, snapshot_id: int | None) -> Any:
        table = self.table(key)
        return read_iceberg(table.metadata, table.io, snapshot_id, self.ignore_name_mapping)

    def metadata_table(self, key: str, which: str) -> Any:
        inspect = self.table(key).inspect
        return inspect.history() if which == "history" else inspect.snapshots()


def rewrite_iceberg_references(sql: str, connection: Any, iceberg: dict[str, dict[str, Any]], default_database: str | None,
                               ignore_name_mapping: bool = False) -> str:
    """``sql`` with each reference to an Iceberg table (and its time travel clause) replaced by an Arrow view."""
    if not iceberg:
        return sql
    reader = _IcebergReader(iceberg, ignore_name_mapping)
    views: dict[tuple[str, str | None, str | None, str | None], str] = {}
    literals = [m.span() for m in re.finditer(r"'(?:[^']|'')*'", sql)]

    def replace(match: re.Match[str]) -> str:
        if any(start <= match.start() < end for start, end in literals):
            return match.group(0)  # inside a string literal
        database = _unquote(match.group("db")) or default_database
        name = _unquote(match.group("table")) or ""
        which = None
        if "$" in name:
            name, _, which = name.partition("$")
            if which not in _METADATA_TABLES:
                return match.group(0)
        key = f"{database}.{name}"
        if key not in iceberg:
            return match.group(0)
        clause = (match.group("kind").upper() if match.group("kind") else None, match.group("value"))
        view_key = (key, which, *clause)
        if view_key not in views:
            view = f"__iceberg_{len(views) + 1}"
            if which:
                if clause[0]:
                    raise LakeQueryError(f"a time travel clause on {name}${which} is not supported")
                arrow = reader.metadata_table(key, which)
            else:
                arrow = reader.arrow(key, reader.snapshot_id(key, *clause))
            connection.register(view, arrow)
            views[view_key] = view
        return _quote(views[view_key])

    return _REFERENCE.sub(replace, sql)


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


def run_query(sql: str, glue: Any, s3: Any, default_database: str | None = None, *, ignore_name_mapping: bool = False) -> QueryResult:
    """Run ``sql`` over the tables of the Glue catalog that it names; their files are read from S3."""
    import duckdb

    connection = duckdb.connect()
    try:
        with tempfile.TemporaryDirectory(prefix="aurora-lake-query-") as scratch:
            iceberg: dict[str, dict[str, Any]] = {}
            for database, tables in _glue_tables(glue).items():
                connection.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote(database)}")
                for table in tables:
                    if not _named_in(sql, table["Name"]):
                        continue
                    if _is_iceberg(table):
                        iceberg[f"{database}.{table['Name']}"] = table
                        continue
                    directory = Path(scratch) / database / table["Name"]
                    directory.mkdir(parents=True)
                    if _is_json(table):
                        register_json_table(connection, s3, database, table, directory)
                    else:
                        register_table(connection, s3, database, table, directory)
            if default_database:  # Athena's QueryExecutionContext: unqualified names resolve here
                connection.execute(f"SET search_path = {_literal(default_database)}")
            try:
                rewritten = rewrite_iceberg_references(sql, connection, iceberg, default_database, ignore_name_mapping)
                relation = connection.sql(rewritten)
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
