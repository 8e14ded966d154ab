"""Writes what a finished snapshot export leaves in S3.

Layout (USER_ExportSnapshot; metadata field names as observed in real exports):

    [S3Prefix/]EXPORT_ID/export_info_EXPORT_ID.json
    [S3Prefix/]EXPORT_ID/export_tables_info_EXPORT_ID_from_1_to_100.json   (100 tables a file)
    [S3Prefix/]EXPORT_ID/DATABASE/SCHEMA.TABLE/BATCH/part-NNNNN-UUID.gz.parquet

The Parquet files are real: gzip-compressed, with the physical and logical
types that ``expectedExportedType`` announces, so a reader that trusts the
metadata and one that inspects the files agree.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from emulated_account.data import Column, Table

Put = Callable[[str, bytes], None]

_DECIMAL = re.compile(r"decimal\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)")
_FIXED = re.compile(r"fixed_len_byte_array\s*\(\s*(\d+)\s*\)")


def arrow_type(exported_type: str) -> Any:
    """The Arrow type that writes the Parquet type ``exported_type`` names; None when unknown."""
    import pyarrow as pa

    text = exported_type.strip().lower()
    physical = re.split(r"[\s(]", text, maxsplit=1)[0]
    logical = text[len(physical) :]
    decimal = _DECIMAL.search(logical)
    if decimal:
        return pa.decimal128(int(decimal.group(1)), int(decimal.group(2)))
    if "timestamp" in logical:
        return pa.timestamp("us")
    if re.search(r"\bdate\b", logical):
        return pa.date32()
    if "utf8" in logical or "string" in logical or physical == "string":
        return pa.string()
    simple = {
        "boolean": pa.bool_(),
        "int32": pa.int32(),
        "int64": pa.int64(),
        "float": pa.float32(),
        "double": pa.float64(),
        "binary": pa.binary(),
        "byte_array": pa.binary(),
    }
    if physical in simple:
        return simple[physical]
    fixed = _FIXED.match(text)
    if fixed:
        return pa.binary(int(fixed.group(1)))
    return None


def _value(column: Column, arrow: Any, row: int) -> Any:
    import pyarrow as pa

    if row % 11 == 5 and column.name not in ("id", "entry_id", "order_id"):
        return None  # nullable columns hold some NULLs, as real tables do
    original = column.original_type.lower()
    if pa.types.is_boolean(arrow):
        return row % 2 == 0
    if pa.types.is_int32(arrow):
        return 1990 + row % 30 if original == "year" else (row * 7) % 1000
    if pa.types.is_int64(arrow):
        # Values above 2^31: a reader that maps int64 to a 32-bit type breaks visibly.
        return row + 1 if column.name.endswith("id") else 3_000_000_000 + row
    if pa.types.is_floating(arrow):
        return row * 1.25
    if pa.types.is_decimal(arrow):
        digits = (row * 37 + 1) % (10 ** min(arrow.precision, 12))
        return Decimal(digits).scaleb(-arrow.scale)
    if pa.types.is_timestamp(arrow):
        return dt.datetime(2026, 10, 1, 12, 0, 0) + dt.timedelta(minutes=17 * row, microseconds=row)
    if pa.types.is_date(arrow):
        return dt.date(2026, 10, 1) + dt.timedelta(days=row)
    if pa.types.is_fixed_size_binary(arrow):
        return row.to_bytes(arrow.byte_width, "big")
    if pa.types.is_binary(arrow):
        return bytes([row % 256, 0xFF, 0x00, 0x7F])
    # Strings: something that looks like what the source type would print.
    if "date" == original:
        return (dt.date(2026, 10, 1) + dt.timedelta(days=row)).isoformat()
    if original.startswith("timestamp"):
        stamp = (dt.datetime(2026, 10, 1, 12) + dt.timedelta(minutes=row)).isoformat(sep=" ")
        return stamp + ("+00" if "with time zone" in original else "")
    if original in ("numeric", "decimal", "money"):
        return f"{row * 12.5:.2f}"
    if original.startswith("json"):
        return json.dumps({"row": row, "tags": ["a", "b"]})
    if original == "uuid":
        return str(uuid.uuid5(uuid.NAMESPACE_OID, f"{column.name}-{row}"))
    if original == "time":
        return f"{row % 24:02d}:{row % 60:02d}:00"
    if original == "interval":
        return f"{row} days"
    if original == "inet":
        return f"10.0.{row // 256}.{row % 256}"
    if original == "array":
        return "{a,b}"
    return f"{column.name} {row}"


def parquet_bytes(columns: Sequence[Column], rows: Sequence[int]) -> bytes:
    """One gzip Parquet file holding ``rows`` (row numbers) of a table with ``columns``."""
    import pyarrow as pa

    from emulated_account.parquet import write_parquet

    arrays = []
    fields = []
    for column in columns:
        arrow = arrow_type(column.exported_type)
        if arrow is None:
            arrow = pa.binary()  # an unknown announced type: the bytes are still there to read
        arrays.append(pa.array([_value(column, arrow, row) for row in rows], type=arrow))
        fields.append(pa.field(column.name, arrow))
    table = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    return write_parquet(table, compression="gzip", store_decimal_as_integer=True)


def _iso(instant: float) -> str:
    return dt.datetime.fromtimestamp(instant, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass
class ExportOutput:
    """What was written, for the simulator to report back through DescribeExportTasks."""

    keys: list[str] = field(default_factory=list)
    total_bytes: int = 0
    tables_written: int = 0

    @property
    def total_gb(self) -> float:
        return round(self.total_bytes / 1024**3, 6)


def _root(prefix: str, export_id: str) -> str:
    prefix = prefix.strip("/")
    return f"{prefix}/{export_id}/" if prefix else f"{export_id}/"


def write_table_files(put: Put, root: str, table: Table, output: ExportOutput, cache: dict[Any, bytes]) -> int:
    """Write one table's Parquet files; returns the bytes written."""
    parts = [(batch, number) for batch, numbers in table.batches for number in numbers]
    size = 0
    for index, (batch, number) in enumerate(parts):
        rows = range(index, table.rows, len(parts))
        key_of_content = (tuple(table.columns), tuple(rows))
        body = cache.get(key_of_content)
        if body is None:
            body = cache[key_of_content] = parquet_bytes(table.columns, rows)
        key = f"{root}{table.folder}/{batch}/part-{number:05d}-{uuid.uuid4()}.gz.parquet"
        put(key, body)
        output.keys.append(key)
        size += len(body)
    output.total_bytes += size
    output.tables_written += 1
    return size


def write_export(
    put: Put,
    *,
    export_id: str,
    prefix: str,
    tables: Sequence[Table],
    info: dict[str, Any],
    skipped: Sequence[tuple[str, str]] = (),
    tables_per_info_file: int = 100,
    start_time: float,
    end_time: float,
) -> ExportOutput:
    """Write data files and metadata of a COMPLETE export of ``tables``.

    ``skipped`` lists (target, reason) of tables the export reports but did not write.
    """
    root = _root(prefix, export_id)
    output = ExportOutput()
    cache: dict[Any, bytes] = {}
    entries: list[dict[str, Any]] = []
    for table in tables:
        size = write_table_files(put, root, table, output, cache)
        entries.append(
            {
                "tableStatistics": {
                    "extractionStartTime": _iso(start_time),
                    "extractionEndTime": _iso(end_time),
                    "partitioningInfo": {"numberOfPartitions": table.part_count, "numberOfCompletedPartitions": table.part_count},
                },
                "schemaMetadata": {"originalTypeMappings": [column.type_mapping() for column in table.columns]},
                "status": "COMPLETE",
                "sizeGB": round(size / 1024**3, 9),
                "target": table.target,
            }
        )
    for target, reason in skipped:
        entries.append({"warningMessage": reason, "target": target})
    for first in range(0, max(len(entries), 1), tables_per_info_file):
        chunk = entries[first : first + tables_per_info_file]
        name = f"{root}export_tables_info_{export_id}_from_{first + 1}_to_{first + len(chunk)}.json"
        put(name, json.dumps({"perTableStatus": chunk}, indent=1).encode())
        output.keys.append(name)
    _write_export_info(put, root, export_id, info, output)
    return output


def write_custom_export(
    put: Put,
    *,
    export_id: str,
    prefix: str,
    tables_info: bytes,
    info: dict[str, Any],
) -> ExportOutput:
    """Write exactly the given ``export_tables_info`` document, and Parquet files that match it.

    Every entry that has column mappings and no warning gets data files with
    its columns; entries with a ``warningMessage`` get none, as skipped tables do.
    """
    document = json.loads(tables_info)
    statuses = document["perTableStatus"] if isinstance(document, dict) else document
    root = _root(prefix, export_id)
    output = ExportOutput()
    cache: dict[Any, bytes] = {}
    for entry in statuses:
        if not isinstance(entry, dict) or entry.get("warningMessage"):
            continue
        mappings = (entry.get("schemaMetadata") or {}).get("originalTypeMappings") or []
        target = str(entry.get("target", ""))
        parts = target.split(".")
        if not mappings or len(parts) not in (2, 3):
            continue
        database, schema, name = (parts[0], parts[0], parts[1]) if len(parts) == 2 else parts
        columns = tuple(
            Column(str(m.get("columnName")), str(m.get("originalType", "")), str(m.get("expectedExportedType", "")))
            for m in mappings
        )
        write_table_files(put, root, Table(database, schema, name, columns, rows=3), output, cache)
    count = len(statuses)
    name = f"{root}export_tables_info_{export_id}_from_1_to_{count}.json"
    put(name, tables_info)
    output.keys.append(name)
    _write_export_info(put, root, export_id, info, output)
    return output


def _write_export_info(put: Put, root: str, export_id: str, info: dict[str, Any], output: ExportOutput) -> None:
    document = dict(info)
    document["exportedFilesPath"] = root.rstrip("/")
    document["totalExportedDataInGB"] = output.total_gb
    key = f"{root}export_info_{export_id}.json"
    put(key, json.dumps(document, indent=1).encode())
    output.keys.append(key)


__all__ = ["ExportOutput", "arrow_type", "parquet_bytes", "write_custom_export", "write_export", "_iso"]
