"""Reading an Aurora snapshot export's own metadata files from S3.

Layout of an export (``S3Prefix`` as given to StartExportTask)::

    s3://BUCKET/S3PREFIX EXPORT_ID/
        export_info_EXPORT_ID.json
        export_tables_info_EXPORT_ID_from_1_to_250.json     (one or more)
        DATABASE/SCHEMA.TABLE/1/part-00000-....gz.parquet  (PostgreSQL)
        DATABASE/SCHEMA.TABLE/part-00000-....gz.parquet    (older layout, no batch folder)
        DATABASE/DATABASE.TABLE/...                        (MySQL)
        .../_SUCCESS                                       (markers, not data)

RDS converts backslash, backtick, double quote and space in these paths to
``_`` (``public.Order Notes`` is written under ``public.Order_Notes/``), while
the metadata keeps the source names: a table's folder is derived with
``s3_path``. Only keys ending in ``.parquet`` are data files.

AWS does not document the metadata files; the field names are the ones real
exports carry. Anything that is not in the expected form raises
``ExportMetadataInvalid`` naming the file, so a format change is noticed at
once instead of producing wrong tables.

A table entry counts as exported only when it has no ``warningMessage`` and its
``status`` is a success status; every other entry, and every item of the
export task's own ``WarningMessage``, is a ``SkippedTable`` with its reason.

A target is the database, schema and table names joined with ``.`` (MySQL: the
database and the table), with nothing escaped: a name holding a dot, or an empty
one, makes a target that more than one table may stand for (schema ``a.b`` with
table ``c`` and schema ``a`` with table ``b.c`` are both ``db.a.b.c``, and RDS
writes both into ``db/a.b.c/``). Such a target, and any target the metadata lists
more than once, is an ``UnplacedTable``: never guessed, never catalogued, and its
possible folders keep every other table's LOCATION clear of its files. A name is
never a reason to fail the export.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from aurora_lake.errors import ExportMetadataInvalid, aws_error

SUCCESS_STATUSES = frozenset({"COMPLETE", "COMPLETED", "SUCCESS", "SUCCEEDED"})
EXPORT_LEVEL = "(export)"
DATA_FILE_SUFFIX = ".parquet"
# Characters RDS replaces with "_" in S3 paths (Aurora user guide, "Considerations for DB
# cluster snapshot exports").
_S3_PATH_CONVERSION = str.maketrans({"\\": "_", "`": "_", '"': "_", " ": "_"})


def s3_path(name: str) -> str:
    """``name`` as RDS writes it in an export's S3 paths."""
    return name.translate(_S3_PATH_CONVERSION)


def table_folder(database: str, schema: str, table: str) -> str:
    """A table's base prefix below the export root, as RDS writes it: ``DATABASE/SCHEMA.TABLE/``."""
    return f"{s3_path(database)}/{s3_path(schema)}.{s3_path(table)}/"


def is_data_file(key: str) -> bool:
    """A Parquet part file; markers (``_SUCCESS``) and other files are not data."""
    name = key.rsplit("/", 1)[-1]
    return name.endswith(DATA_FILE_SUFFIX) and not name.startswith(("_", "."))


@dataclass(frozen=True)
class ExportLocation:
    bucket: str
    prefix: str  # S3Prefix of the export task, normalised to "" or "some/path/"
    export_id: str

    @classmethod
    def of(cls, bucket: str, prefix: str | None, export_id: str) -> ExportLocation:
        prefix = (prefix or "").lstrip("/")
        if prefix and not prefix.endswith("/"):
            # The export service puts the export folder below the prefix as a path segment.
            prefix += "/"
        if not bucket or not export_id:
            raise ExportMetadataInvalid("the export's bucket and task identifier are required")
        return cls(bucket, prefix, export_id)

    @property
    def root_key(self) -> str:
        return f"{self.prefix}{self.export_id}/"

    @property
    def root_uri(self) -> str:
        return f"s3://{self.bucket}/{self.root_key}"

    def table_key(self, database: str, schema: str, table: str) -> str:
        """The base prefix of a table's files as RDS writes it (never a batch folder)."""
        return self.root_key + table_folder(database, schema, table)

    def table_uri(self, database: str, schema: str, table: str) -> str:
        return f"s3://{self.bucket}/{self.table_key(database, schema, table)}"


@dataclass(frozen=True)
class ExportedColumn:
    name: str
    exported_type: str
    original_type: str = ""


@dataclass(frozen=True)
class ExportedTable:
    target: str  # as the export names it: db.schema.table (MySQL: db.table or db.db.table)
    database: str
    schema: str
    table: str
    columns: tuple[ExportedColumn, ...]
    size_gb: float | None = None


@dataclass(frozen=True)
class SkippedTable:
    target: str
    reason: str


@dataclass(frozen=True)
class UnplacedTable:
    """A table the metadata lists under a target that does not say which table it is.

    Never catalogued. ``folders`` holds the folders below the export root (``DB/SCHEMA.TABLE/``)
    where RDS may have written its files and a catalogued table's folder could hold them.
    """

    target: str
    reason: str
    folders: tuple[str, ...]


@dataclass
class ExportMetadata:
    location: ExportLocation
    info: dict[str, Any] | None
    files: list[str] = field(default_factory=list)
    tables: list[ExportedTable] = field(default_factory=list)
    skipped: list[SkippedTable] = field(default_factory=list)
    unplaced: list[UnplacedTable] = field(default_factory=list)


# How many of a target's possible readings a reason names.
READINGS_SHOWN = 3


def place_target(target: str) -> tuple[str, str, str] | None:
    """``(database, schema, table)`` of an export target, or None when the target may stand for several tables.

    PostgreSQL targets are ``db.schema.table``; a MySQL target may be ``db.table`` (its folder is
    ``db/db.table/``, so the schema is the database). The names are joined with ``.`` and nothing is
    escaped: a target with an empty part or more than three parts has a name holding a dot (or an
    empty one), and which part is which cannot be known.
    """
    parts = target.split(".")
    if not all(parts) or len(parts) not in (2, 3):
        return None
    if len(parts) == 2:
        return parts[0], parts[0], parts[1]
    return parts[0], parts[1], parts[2]


def target_readings(target: str) -> Iterator[tuple[str, str, str]]:
    """Every ``(database, schema, table)`` of non-empty names that joined with ``.`` give ``target``.

    A MySQL reading (``database.table``) has the database as its schema.
    """
    dots = [index for index, char in enumerate(target) if char == "."]
    for position, first in enumerate(dots):
        for second in dots[position + 1:]:
            database, schema, table = target[:first], target[first + 1:second], target[second + 1:]
            if database and schema and table:
                yield database, schema, table
    for first in dots:
        database, table = target[:first], target[first + 1:]
        if database and table:
            yield database, database, table


def target_folders(target: str) -> tuple[str, ...]:
    """The folders below the export root where a table named ``target`` may have its files, and a catalogued table's folder may hold them.

    A folder is ``DATABASE/SCHEMA.TABLE/``. A catalogued table's names hold no dot, so its folder
    can only be, or hold, a folder whose database is the target's first part: ``FIRST/REST/`` (a
    schema and a table) or ``FIRST/FIRST.REST/`` (MySQL). Readings whose database holds a dot lie
    in folders no catalogued table reads, so at most two folders a target, whatever its dots.
    """
    database, _, rest = target.partition(".")
    if not database or not rest:
        return ()
    folders = [f"{s3_path(database)}/{s3_path(rest)}/"] if "." in rest else []
    return (*folders, table_folder(database, database, rest))


def _readings_text(target: str) -> str:
    """Up to READINGS_SHOWN of the tables ``target`` may be, for a reason an engineer reads."""
    first = target.split(".", 1)[0]
    readings = list(islice(target_readings(target), READINGS_SHOWN + 1))
    shown = []
    for database, schema, table in readings[:READINGS_SHOWN]:
        named = f'database "{database}", '
        if target == f"{database}.{table}":  # MySQL: database.table
            shown.append(f'{named}table "{table}"')
        else:
            shown.append(f'{"" if database == first else named}schema "{schema}", table "{table}"')
    if not shown:
        return "no table with non-empty names"
    return " or ".join(shown) + (" or others" if len(readings) > READINGS_SHOWN else "")


_NO_DOT = "with no '.' in a database, schema or table name"


def _slash_text(target: str) -> str:
    return "; it also holds '/', which would put its folder inside another's" if "/" in target else ""


def unplaceable(target: str) -> UnplacedTable:
    """A table whose target has a name holding a dot, or an empty name."""
    return UnplacedTable(
        target,
        f"the export's metadata cannot tell which table it is (a name holds '.' or is empty{_slash_text(target)}): "
        f"rename it at the source, {_NO_DOT}. It may be {_readings_text(target)}: the metadata joins names with '.'. "
        f"It is not catalogued, nor is any table whose folder may hold its files.",
        target_folders(target),
    )


def listed_more_than_once(target: str, count: int) -> UnplacedTable:
    """Tables the metadata lists under one target: different tables whose names read alike."""
    return UnplacedTable(
        target,
        f"the export's metadata lists {count} tables as {target} and cannot tell them apart{_slash_text(target)}: rename "
        f"them at the source, {_NO_DOT}. Each may be {_readings_text(target)}: the metadata joins names with '.', and "
        f"their files share one folder. None of them is catalogued, nor is any table whose folder may hold their files.",
        target_folders(target),
    )


def _tables_file_pattern(export_id: str) -> re.Pattern[str]:
    return re.compile(rf"^export_tables_info_{re.escape(export_id)}_from_(\d+)_to_(\d+)\.json$")


def list_metadata_keys(s3: Any, location: ExportLocation) -> tuple[str | None, list[str]]:
    """``(export_info key or None, export_tables_info keys in file order)``.

    Lists only the export root (with a delimiter), not the Parquet files below it.
    """
    pattern = _tables_file_pattern(location.export_id)
    info_name = f"export_info_{location.export_id}.json"
    info_key: str | None = None
    tables: list[tuple[int, int, str]] = []
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(
            Bucket=location.bucket, Prefix=location.root_key, Delimiter="/"
        )
        for page in pages:
            for obj in page.get("Contents", []):
                name = obj["Key"][len(location.root_key):]
                if name == info_name:
                    info_key = obj["Key"]
                elif match := pattern.match(name):
                    tables.append((int(match.group(1)), int(match.group(2)), obj["Key"]))
    except Exception as exc:  # botocore ClientError: keep the AWS error code as the error name
        if hasattr(exc, "response"):
            raise aws_error(exc) from exc
        raise
    return info_key, [key for _, _, key in sorted(tables)]


def table_keys_with_data(s3: Any, location: ExportLocation) -> set[str]:
    """The base prefix of every table folder that holds at least one data file.

    One paginated listing of the whole export (1,000 keys a call), whatever the table count;
    a data file sits in ``DATABASE/SCHEMA.TABLE/`` or in a batch folder below it.
    """
    found: set[str] = set()
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=location.root_key):
            for obj in page.get("Contents", []):
                parts = obj["Key"][len(location.root_key):].split("/")
                if len(parts) >= 3 and is_data_file(obj["Key"]):
                    found.add(f"{location.root_key}{parts[0]}/{parts[1]}/")
    except Exception as exc:  # botocore ClientError: keep the AWS error code as the error name
        if hasattr(exc, "response"):
            raise aws_error(exc) from exc
        raise
    return found


def _read_json(s3: Any, bucket: str, key: str) -> Any:
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception as exc:
        if hasattr(exc, "response"):
            raise aws_error(exc) from exc
        raise
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ExportMetadataInvalid(f"s3://{bucket}/{key} is not JSON: {exc}") from exc


def parse_table_entry(entry: Any, source: str) -> ExportedTable | SkippedTable | UnplacedTable:
    """One ``perTableStatus`` item: an exported table, a skipped one with its reason, or one whose target
    may stand for several tables (``UnplacedTable``)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("target"), str) or not entry["target"]:
        raise ExportMetadataInvalid(f"{source}: a perTableStatus entry has no target: {str(entry)[:200]}")
    target = entry["target"]
    warning = entry.get("warningMessage")
    status = str(entry.get("status") or "")
    if warning:
        return SkippedTable(target, str(warning))
    if status.upper() not in SUCCESS_STATUSES:
        return SkippedTable(target, f"export status {status or '(none)'}")
    mappings = (entry.get("schemaMetadata") or {}).get("originalTypeMappings")
    if not isinstance(mappings, list) or not mappings:
        raise ExportMetadataInvalid(f"{source}: table {target} has no schemaMetadata.originalTypeMappings")
    columns = []
    for mapping in mappings:
        name = mapping.get("columnName") if isinstance(mapping, dict) else None
        exported = mapping.get("expectedExportedType") if isinstance(mapping, dict) else None
        if not isinstance(name, str) or not name or not isinstance(exported, str):
            raise ExportMetadataInvalid(f"{source}: table {target} has a column without columnName/expectedExportedType: {str(mapping)[:200]}")
        columns.append(ExportedColumn(name, exported, str(mapping.get("originalType") or "")))
    placed = place_target(target)
    if placed is None:
        return unplaceable(target)
    size = entry.get("sizeGB")
    return ExportedTable(target, *placed, tuple(columns), float(size) if isinstance(size, (int, float)) else None)


def skipped_from_warning(warning_message: str | None) -> list[SkippedTable]:
    """What an export task's ``WarningMessage`` says is missing; never empty for a non-empty message."""
    if not warning_message or not str(warning_message).strip():
        return []
    text = str(warning_message)
    try:
        data = json.loads(text)
    except ValueError:
        return [SkippedTable(EXPORT_LEVEL, text)]
    found: list[SkippedTable] = []
    if isinstance(data, dict):
        for key in ("skippedTables", "skippedObjectives"):
            for item in data.get(key) or []:
                if isinstance(item, dict):
                    target = str(item.get("target") or item.get("table") or item.get("name") or EXPORT_LEVEL)
                    reason = str(item.get("reason") or item.get("warningMessage") or key)
                else:
                    target, reason = str(item), key
                found.append(SkippedTable(target, reason))
        for item in data.get("general") or []:
            reason = item.get("reason") if isinstance(item, dict) else item
            found.append(SkippedTable(EXPORT_LEVEL, str(reason or item)))
    return found or [SkippedTable(EXPORT_LEVEL, text)]


def read_export_metadata(s3: Any, location: ExportLocation) -> ExportMetadata:
    """Read and check every metadata file of the export at ``location``."""
    info_key, table_keys = list_metadata_keys(s3, location)
    if not table_keys:
        raise ExportMetadataInvalid(
            f"no export_tables_info_{location.export_id}_from_N_to_M.json file under {location.root_uri}"
        )
    info = None
    if info_key:
        info = _read_json(s3, location.bucket, info_key)
        found_id = info.get("exportTaskIdentifier") if isinstance(info, dict) else None
        if found_id not in (None, location.export_id):
            raise ExportMetadataInvalid(f"{info_key} describes export {found_id!r}, not {location.export_id!r}")
    metadata = ExportMetadata(location, info, files=[info_key] if info_key else [])
    listed: dict[str, list[ExportedTable | UnplacedTable]] = {}
    skipped: dict[SkippedTable, None] = {}
    for key in table_keys:
        document = _read_json(s3, location.bucket, key)
        entries = document.get("perTableStatus") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise ExportMetadataInvalid(f"s3://{location.bucket}/{key} has no perTableStatus list")
        metadata.files.append(key)
        for entry in entries:
            parsed = parse_table_entry(entry, key)
            if isinstance(parsed, SkippedTable):
                skipped[parsed] = None  # the same skip reported twice is one
            else:
                listed.setdefault(parsed.target, []).append(parsed)
    metadata.skipped = list(skipped)
    skipped_targets = {entry.target for entry in skipped}
    for target, found in listed.items():
        # One target for two tables (or a table both exported and skipped): which is which cannot be known.
        count = len(found) + (target in skipped_targets)
        if count > 1:
            metadata.unplaced.append(listed_more_than_once(target, count))
        elif isinstance(found[0], UnplacedTable):
            metadata.unplaced.append(found[0])
        else:
            metadata.tables.append(found[0])
    return metadata
