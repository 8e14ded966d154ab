"""Columns of an Iceberg table: their types, how they may change, and what the files must hold.

An exported column has an Athena type (``catalog.types`` reads it from the export's metadata);
its Iceberg type follows from it, except for timestamps, whose Parquet footer says whether they
are UTC-adjusted (``timestamptz``) or not (``timestamp``): AWS does not document which flag RDS
writes, so each table takes it from its files and a file that disagrees is refused.

Athena's Iceberg support has no ``tinyint``, ``smallint``, ``time`` or ``fixed``
(Athena User Guide, "Supported data types for Iceberg tables in Athena"): the export's 8- and
16-bit integers are Iceberg ``int`` (an INT32 file column either way).

Between exports a column's type may:

* stay the same, or arrive narrower than the table's type (``int`` files in a ``long`` column,
  ``float`` in ``double``, ``decimal(p,s)`` in ``decimal(P,s)``, P > p): readers promote them,
  as they do for files written before a widening, so the table keeps its type;
* widen (``int`` -> ``long``, ``float`` -> ``double``, ``decimal(p,s)`` -> ``decimal(P,s)``):
  the Iceberg spec's type promotions, the only ones;
* change in any other way (``string`` <-> ``int``, a decimal's scale, ``timestamp`` <->
  ``timestamptz``, ``string`` <-> ``binary``): refused. PyIceberg 0.12 accepts a decimal scale
  change and ``string`` <-> ``binary`` in its own checks; the spec does not, so these rules are
  this module's own.

Every file is checked against the columns before it is registered (``footer_problems``): a
column missing from a file, a file column the metadata does not list, an unsigned integer,
INT96, a millisecond timestamp, a fixed-length array that is not a decimal, or any type that
differs from the column's, leaves the table out with the reason. A reader would otherwise read
NULLs or misread values silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pyiceberg.types import (
    BinaryType,
    BooleanType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    PrimitiveType,
    StringType,
    TimestampType,
    TimestamptzType,
)

SAME, NARROWER, WIDEN, REFUSED = "same", "narrower", "widen", "refused"

_SIMPLE: dict[str, PrimitiveType] = {
    "tinyint": IntegerType(),
    "smallint": IntegerType(),
    "int": IntegerType(),
    "bigint": LongType(),
    "float": FloatType(),
    "double": DoubleType(),
    "boolean": BooleanType(),
    "string": StringType(),
    "binary": BinaryType(),
    "date": DateType(),
}
_DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")


class UnsupportedColumn(ValueError):
    """A column whose files an Iceberg reader cannot read exactly."""


def iceberg_type(athena_type: str, utc_adjusted: bool = False) -> PrimitiveType:
    """The Iceberg type of a column whose export metadata gives ``athena_type`` (``catalog.types``)."""
    if athena_type in _SIMPLE:
        return _SIMPLE[athena_type]
    if athena_type == "timestamp":
        return TimestamptzType() if utc_adjusted else TimestampType()
    decimal = _DECIMAL.match(athena_type)
    if decimal:
        return DecimalType(int(decimal.group(1)), int(decimal.group(2)))
    raise UnsupportedColumn(f"no Iceberg type for Athena type {athena_type!r}")


def hive_type(iceberg: PrimitiveType) -> str:
    """The type Glue's column list shows for an Iceberg type (what Athena's DESCRIBE prints)."""
    if isinstance(iceberg, DecimalType):
        return f"decimal({iceberg.precision},{iceberg.scale})"
    return {
        IntegerType: "int", LongType: "bigint", FloatType: "float", DoubleType: "double", BooleanType: "boolean",
        StringType: "string", BinaryType: "binary", DateType: "date", TimestampType: "timestamp", TimestamptzType: "timestamp",
    }[type(iceberg)]


def change(table_type: PrimitiveType, incoming: PrimitiveType) -> str:
    """How a column of ``table_type`` takes files of type ``incoming``: SAME, NARROWER, WIDEN or REFUSED."""
    if table_type == incoming:
        return SAME
    if _promotes(incoming, table_type):
        return NARROWER
    if _promotes(table_type, incoming):
        return WIDEN
    return REFUSED


def _promotes(narrow: PrimitiveType, wide: PrimitiveType) -> bool:
    """The Iceberg spec's type promotions (Schema Evolution): int -> long, float -> double, decimal precision."""
    if isinstance(narrow, IntegerType) and isinstance(wide, LongType):
        return True
    if isinstance(narrow, FloatType) and isinstance(wide, DoubleType):
        return True
    if isinstance(narrow, DecimalType) and isinstance(wide, DecimalType):
        return narrow.scale == wide.scale and narrow.precision < wide.precision
    return False


def wider(a: PrimitiveType, b: PrimitiveType) -> PrimitiveType:
    """The wider of two types that ``change`` does not refuse."""
    return b if change(a, b) == WIDEN else a


# -- Parquet footers ------------------------------------------------------------------------


def _logical(column: Any) -> dict[str, Any]:
    try:
        return dict(json.loads(column.logical_type.to_json()))
    except (ValueError, TypeError, AttributeError):
        return {"Type": str(getattr(column.logical_type, "type", "None"))}


def timestamp_flags(parquet_schema: Any) -> dict[str, bool]:
    """``{column name: isAdjustedToUTC}`` of the file's timestamp columns."""
    flags = {}
    for index in range(len(parquet_schema)):
        column = parquet_schema.column(index)
        logical = _logical(column)
        if str(logical.get("Type", "")).lower() == "timestamp":
            flags[column.name] = bool(logical.get("isAdjustedToUTC"))
    return flags


def _file_type_problem(column: Any, wanted: PrimitiveType) -> str | None:
    """Why the file's ``column`` cannot be read as ``wanted`` (None when it can, exactly or promoted)."""
    physical = str(column.physical_type)
    logical = _logical(column)
    kind = str(logical.get("Type", "None")).lower()
    converted = str(column.converted_type or "NONE").upper()
    shown = f"{physical} {column.logical_type}" if kind != "none" else physical
    if physical == "INT96":
        return f"the file holds INT96 ({shown}), which Iceberg readers do not take"
    if kind == "int" or converted.startswith(("INT_", "UINT_")):
        if not logical.get("isSigned", not converted.startswith("UINT_")):
            return f"the file holds an unsigned integer ({shown}), which has no Iceberg type"
    if kind == "timestamp":
        unit = str(logical.get("timeUnit", "")).lower()
        if unit != "microseconds":
            return f"the file holds a timestamp in {unit or 'an unknown unit'} ({shown}); Iceberg timestamps are in microseconds"
        found: PrimitiveType = TimestamptzType() if logical.get("isAdjustedToUTC") else TimestampType()
    elif kind == "decimal" or converted == "DECIMAL":
        found = DecimalType(int(column.precision), int(column.scale))
    elif kind in ("string", "enum", "json") or converted in ("UTF8", "ENUM", "JSON"):
        if physical != "BYTE_ARRAY":
            return f"the file holds text on {physical} ({shown})"
        found = StringType()
    elif kind == "date" or converted == "DATE":
        found = DateType()
    elif physical == "FIXED_LEN_BYTE_ARRAY":
        return f"the file holds a fixed-length byte array ({shown}), which Athena's Iceberg support cannot read"
    elif physical == "INT32":
        found = IntegerType()
    elif physical == "INT64":
        found = LongType()
    elif physical == "FLOAT":
        found = FloatType()
    elif physical == "DOUBLE":
        found = DoubleType()
    elif physical == "BOOLEAN":
        found = BooleanType()
    elif physical == "BYTE_ARRAY" and kind == "none":
        found = BinaryType()
    else:
        return f"the file holds {shown}, which this version does not register"
    if change(wanted, found) in (SAME, NARROWER):
        return None
    return f"the file holds {found} ({shown}), the column is {wanted}"


def footer_problems(parquet_schema: Any, wanted: Mapping[str, PrimitiveType]) -> list[str]:
    """Every way one file's columns differ from ``wanted`` (source column name -> Iceberg type)."""
    problems = []
    in_file: dict[str, Any] = {}
    for index in range(len(parquet_schema)):
        column = parquet_schema.column(index)
        if column.max_repetition_level or column.max_definition_level > 1:  # inside a group (a top-level name may hold dots)
            problems.append(f"column {column.path[:120]!r} is nested or repeated, which no exported type is")
            continue
        in_file[column.name] = column
    for name, iceberg in wanted.items():
        column = in_file.get(name)
        if column is None:
            problems.append(f"column {name[:120]!r} is in the export's metadata but not in the file (it would read as NULL)")
            continue
        problem = _file_type_problem(column, iceberg)
        if problem:
            problems.append(f"column {name[:120]!r}: {problem}")
    for name in sorted(set(in_file) - set(wanted)):
        problems.append(f"the file holds column {name[:120]!r}, which the export's metadata does not list")
    return problems


def describe(columns: Sequence[tuple[str, PrimitiveType]]) -> str:
    return ", ".join(f"{name} {kind}" for name, kind in columns)
