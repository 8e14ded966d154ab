"""What the Glue Data Catalog accepts in a table, checked before the first catalog change.

The limits are those of botocore's Glue service model (``glue/2017-03-31``, shapes
``NameString``, ``CommentString``, ``ColumnTypeString``, ``DescriptionString``,
``LocationString``, ``KeyString``, ``ParametersMapValue``); a unit test compares them
with the model, so a change there is noticed. Glue measures Java strings: lengths here
are counted in UTF-16 code units. Athena takes names of at most 255 bytes (UTF-8), and its
own limit on a statement (``QueryString``,
262,144 bytes in botocore's Athena model) bounds the versioned table's DDL.

A table whose definition breaks one of them is left out of the catalog with the
reasons, instead of failing the run half-way through re-pointing the latest tables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

# Single-line text (NameString, CommentString, ColumnTypeString, KeyString): any character but
# the C0 controls other than tab; surrogate pairs (astral characters) allowed.
_SINGLE_LINE = re.compile("[\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff\t]*")
# Multi-line text (DescriptionString, LocationString): CR and LF allowed as well.
_MULTI_LINE = re.compile("[\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff\r\n\t]*")

NAME_MAX = 255
COMMENT_MAX = 255
COLUMN_TYPE_MAX = 131072
DESCRIPTION_MAX = 2048
LOCATION_MAX = 2056
PARAMETER_KEY_MAX = 255
PARAMETER_VALUE_MAX = 512000
ATHENA_QUERY_MAX_BYTES = 262144
# Athena User Guide, "Name databases, tables, and columns": names are 1 to 255 bytes (UTF-8).
ATHENA_NAME_MAX_BYTES = 255

# shape name -> (min, max, pattern or None): as in botocore's Glue model.
SHAPES: dict[str, tuple[int, int, re.Pattern[str] | None]] = {
    "NameString": (1, NAME_MAX, _SINGLE_LINE),
    "CommentString": (0, COMMENT_MAX, _SINGLE_LINE),
    "ColumnTypeString": (0, COLUMN_TYPE_MAX, _SINGLE_LINE),
    "DescriptionString": (0, DESCRIPTION_MAX, _MULTI_LINE),
    "LocationString": (0, LOCATION_MAX, _MULTI_LINE),
    "KeyString": (1, PARAMETER_KEY_MAX, _SINGLE_LINE),
    "ParametersMapValue": (0, PARAMETER_VALUE_MAX, None),
}


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _escaped(text: str, limit: int = 80) -> str:
    shown = text.encode("unicode_escape").decode("ascii")
    return shown if len(shown) <= limit else shown[:limit] + "..."


def value_problems(what: str, value: str, shape: str) -> list[str]:
    low, high, pattern = SHAPES[shape]
    length = utf16_length(value)
    problems = []
    if length < low:
        problems.append(f"{what} is empty")
    if length > high:
        problems.append(f"{what} is {length} characters long, more than Glue's {high}")
    if pattern is not None and not pattern.fullmatch(value):
        bad = sorted({ch for ch in value if not pattern.fullmatch(ch)})
        problems.append(f"{what} {_escaped(value)!s} holds characters Glue refuses ({', '.join(_escaped(ch) for ch in bad)})")
    return problems


def table_input_problems(table_input: Mapping[str, Any]) -> list[str]:
    """Every field of a Glue ``TableInput`` (as ``ddl`` builds it) that Glue would refuse."""
    problems = value_problems("table name", str(table_input.get("Name", "")), "NameString")
    if "Description" in table_input:
        problems += value_problems("table description", str(table_input["Description"]), "DescriptionString")
    problems += _parameter_problems("table parameter", table_input.get("Parameters") or {})
    descriptor = table_input.get("StorageDescriptor") or {}
    problems += value_problems("location", str(descriptor.get("Location", "")), "LocationString")
    for column in descriptor.get("Columns") or []:
        name = str(column.get("Name", ""))
        problems += value_problems(f"column name {_escaped(name)}", name, "NameString")
        if len(name.encode()) > ATHENA_NAME_MAX_BYTES:
            problems.append(f"column name {_escaped(name)} is {len(name.encode())} bytes long, more than Athena's {ATHENA_NAME_MAX_BYTES}")
        problems += value_problems(f"type of column {_escaped(name)}", str(column.get("Type", "")), "ColumnTypeString")
        if "Comment" in column:
            problems += value_problems(f"comment of column {_escaped(name)}", str(column["Comment"]), "CommentString")
    return problems


def _parameter_problems(what: str, parameters: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    for key, value in parameters.items():
        problems += value_problems(f"{what} key", str(key), "KeyString")
        problems += value_problems(f"{what} {_escaped(str(key))}", str(value), "ParametersMapValue")
    return problems


def statement_problems(statements: Sequence[str]) -> list[str]:
    """Athena statements longer than StartQueryExecution takes."""
    return [
        f"its DDL statement is {len(sql.encode())} bytes, more than Athena's {ATHENA_QUERY_MAX_BYTES}"
        for sql in statements
        if len(sql.encode()) > ATHENA_QUERY_MAX_BYTES
    ]
