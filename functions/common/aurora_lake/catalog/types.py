"""Athena column types for the types an Aurora snapshot export writes.

The export metadata (``export_tables_info_*.json``) gives each column an
``expectedExportedType``: a Parquet physical type, optionally followed by a
logical or converted type annotation. Its exact spelling is not documented, so
the parser accepts every form seen so far and the obvious variants:

=====================================================  ===============
expectedExportedType (any case, any spacing)           Athena type
=====================================================  ===============
``int32``                                              ``int``
``int32 (INT(8))`` / ``int32 (INT_8)``                 ``tinyint``
``int32 (INT(16))`` / ``int32 (INT_16)``               ``smallint``
``int32 (INT(32))``                                    ``int``
``int64`` / ``int64 (INT(64))`` / ``int64 (INT_64)``   ``bigint``
``float``                                              ``float``
``double``                                             ``double``
``boolean``                                            ``boolean``
``binary (UTF8)`` / ``(STRING)`` / ``(ENUM)`` /        ``string``
``(JSON)``
``binary``                                             ``binary``
``int64 (TIMESTAMP_MICROS)`` / ``TIMESTAMP_MICRO`` /   ``timestamp``
``TIMESTAMP_MILLIS`` / ``TIMESTAMP(MICROS,true)``
``int32 (DATE)`` / ``int32 DATE``                      ``date``
``int32|int64|binary (DECIMAL(p,s))``                  ``decimal(p,s)``
``fixed_len_byte_array(n) (DECIMAL(p,s))``             ``decimal(p,s)``
=====================================================  ===============

Anything else (an unsigned integer annotation, INT96, a plain fixed-length
array, an annotation on the wrong physical type, a precision above 38) raises
``UnknownExportedType``: a wrong declared type corrupts query results weeks
later, so no type is ever guessed.
"""

from __future__ import annotations

import re

MAX_DECIMAL_PRECISION = 38


class UnknownExportedType(ValueError):
    """The exported type has no known, exact Athena type."""


_PHYSICAL = re.compile(
    r"^(INT32|INT64|INT96|FLOAT|DOUBLE|BOOLEAN|BINARY|BYTE_ARRAY|FIXED_LEN_BYTE_ARRAY)"
    r"(?:\s*\(\s*(\d+)\s*\))?(?![A-Z0-9_])"
)
_BINARY = {"BINARY", "BYTE_ARRAY"}
_PLAIN = {"INT32": "int", "INT64": "bigint", "FLOAT": "float", "DOUBLE": "double", "BOOLEAN": "boolean", "BINARY": "binary", "BYTE_ARRAY": "binary"}
_STRING_ANNOTATIONS = {"UTF8", "UTF-8", "STRING", "ENUM", "JSON"}
_TIMESTAMP_ANNOTATIONS = {"TIMESTAMP_MICROS", "TIMESTAMP_MICRO", "TIMESTAMP_MILLIS", "TIMESTAMP_MILLI"}
_TIMESTAMP_LOGICAL = re.compile(r"^TIMESTAMP\((?:ISADJUSTEDTOUTC=)?(?:TRUE|FALSE)?,?(?:UNIT=)?(MICROS|MILLIS)(?:,(?:ISADJUSTEDTOUTC=)?(?:TRUE|FALSE))?\)$")
_DECIMAL = re.compile(r"^DECIMAL\((\d+)(?:,(\d+))?\)$")
_SIGNED_INT = re.compile(r"^(?:INT|INTEGER)\((8|16|32|64)(?:,(?:ISSIGNED=)?(TRUE|FALSE|SIGNED|UNSIGNED))?\)$|^INT_(8|16|32|64)$")
_INT_TYPES = {"8": "tinyint", "16": "smallint", "32": "int", "64": "bigint"}
# Which physical type carries each integer width (Parquet format specification).
_INT_PHYSICAL = {"8": "INT32", "16": "INT32", "32": "INT32", "64": "INT64"}


def _annotation(rest: str) -> str:
    """The annotation text without spaces and without enclosing parentheses."""
    text = re.sub(r"\s+", "", rest)
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1]
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += 1 if ch == "(" else -1 if ch == ")" else 0
        if depth < 0:
            return False
    return depth == 0


def athena_type(expected_exported_type: str) -> str:
    """The exact Athena type that reads a column exported as ``expected_exported_type``."""
    if not isinstance(expected_exported_type, str) or not expected_exported_type.strip():
        raise UnknownExportedType(f"empty exported type {expected_exported_type!r}")
    text = expected_exported_type.strip().upper()
    match = _PHYSICAL.match(text)
    if not match:
        raise UnknownExportedType(f"unknown physical type in {expected_exported_type!r}")
    physical, length = match.group(1), match.group(2)
    annotation = _annotation(text[match.end():])

    def unknown(why: str) -> UnknownExportedType:
        return UnknownExportedType(f"{why}: {expected_exported_type!r}")

    if length is not None and physical != "FIXED_LEN_BYTE_ARRAY":
        raise unknown("a length is only valid on fixed_len_byte_array")
    if not annotation:
        if physical in _PLAIN:
            return _PLAIN[physical]
        raise unknown(f"{physical.lower()} without an annotation has no exact Athena type")

    decimal = _DECIMAL.match(annotation)
    if decimal:
        if physical not in {"INT32", "INT64", "FIXED_LEN_BYTE_ARRAY"} | _BINARY:
            raise unknown("DECIMAL is not valid on this physical type")
        precision, scale = int(decimal.group(1)), int(decimal.group(2) or 0)
        if not 1 <= precision <= MAX_DECIMAL_PRECISION or scale > precision:
            raise unknown(f"decimal({precision},{scale}) is outside Athena's decimal range")
        return f"decimal({precision},{scale})"
    if annotation in _STRING_ANNOTATIONS:
        if physical not in _BINARY:
            raise unknown(f"{annotation} is only valid on binary")
        return "string"
    if annotation in _TIMESTAMP_ANNOTATIONS or _TIMESTAMP_LOGICAL.match(annotation):
        if physical != "INT64":
            raise unknown("a timestamp annotation is only valid on int64")
        return "timestamp"
    if annotation == "DATE":
        if physical != "INT32":
            raise unknown("DATE is only valid on int32")
        return "date"
    integer = _SIGNED_INT.match(annotation)
    if integer:
        width = integer.group(1) or integer.group(3)
        if integer.group(2) in {"FALSE", "UNSIGNED"}:
            raise unknown("unsigned integers have no exact Athena type")
        if physical != _INT_PHYSICAL[width]:
            raise unknown(f"a {width}-bit integer annotation is not valid on {physical.lower()}")
        return _INT_TYPES[width]
    raise unknown(f"unknown annotation {annotation}")
