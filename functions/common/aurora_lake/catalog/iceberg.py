"""One Apache Iceberg table per source table; one snapshot per export, its files registered as they are.

The table lives in the Glue Data Catalog under the source table's latest name (``names``), so
saved queries keep working; ``FOR TIMESTAMP AS OF`` / ``FOR VERSION AS OF`` read earlier exports.
Its metadata is under ``s3://BUCKET/iceberg/DATABASE/NAME/TABLE-UUID/metadata/``; its data files
stay where RDS wrote them: nothing is copied or rewritten.

What a table holds is a function of its retained exports:

* **one snapshot per export**, stamped with the source snapshot's time
  (``ExportTask.SnapshotTime``), not the run's. A snapshot's manifest list names one manifest of
  that export's files (ADDED) and one of the previous export's files (DELETED): reading it gives
  exactly that export's rows. Snapshots are kept in source-time order, each the parent of the
  next; the newest is the current one. Each snapshot's files are its own (no manifest is shared),
  so expiring one deletes exactly its manifest list and manifests.
* **an export older than the newest** (a backup exported late, or the migration of a 2.x
  history) is inserted in its place: its own files, plus the next snapshot's DELETED manifest and
  manifest list written again to follow it. Nothing else is rewritten. A second export of the
  same source snapshot replaces the first.
* the schema of each snapshot is its export's columns. A column keeps its field id as long as a
  retained snapshot has it, whatever its spelling's case (the Iceberg name is the lower-case source
  name; ``names.column_name``); a column that comes back takes its field id back. The name mapping
  (``schema.name-mapping.default``) lists, for each field id, every source spelling its files hold:
  RDS writes Parquet without field ids, and readers bind file columns to fields through it.
* a type change Iceberg cannot take (``iceberg_schema.change``) starts a new table generation: the
  table's history so far stays readable as ``_{name}__{n}`` (an *archived* table, at most
  ``MAX_ARCHIVES`` per source table) and the latest name starts again with this export.

Timestamps and Athena's reader: Java's ``TableMetadata`` (Athena and Trino load tables through
it) refuses metadata whose snapshot log or metadata log goes back in time, or whose
``last-updated-ms`` is before either. Here ``last-updated-ms`` is the newest source time, or one
millisecond after the previous version's when that is later, so every version is in order;
``java_ordering_problems`` checks the rules on every metadata file before it is written.

Commits: the metadata file is written under the table's folder, then the Glue table is created
(CreateTable) or moved to it with one UpdateTable carrying the ``VersionId`` read before
(``SkipArchive``: Glue keeps no table version per commit). Another writer in between makes Glue
answer ConcurrentModificationException; the commit is then made again from the new state. Files
a failed commit wrote are deleted. A 2.x latest table (a Hive table over the newest export) is
converted in place by that same UpdateTable, the last and only step that changes what readers see.

PyIceberg builds everything written: its manifest and manifest-list writers, its statistics of a
Parquet footer, its snapshot summaries and its table metadata models. It is imported by this
module, and this module only by the catalog step.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyiceberg.io.pyarrow import compute_statistics_plan, data_file_statistics_from_parquet_metadata
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat, ManifestEntry, ManifestEntryStatus, ManifestFile, write_manifest, write_manifest_list
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC
from pyiceberg.schema import Schema
from pyiceberg.serializers import FromInputFile
from pyiceberg.table.metadata import TableMetadata, TableMetadataUtil, new_table_metadata
from pyiceberg.table.name_mapping import MappedField, NameMapping, parse_mapping_from_json
from pyiceberg.table.refs import SnapshotRef, SnapshotRefType
from pyiceberg.table.snapshots import MetadataLogEntry, Operation, Snapshot, SnapshotLogEntry, SnapshotSummaryCollector, Summary, update_snapshot_summaries
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER
from pyiceberg.types import NestedField, PrimitiveType

from aurora_lake import clients
from aurora_lake.catalog import glue_limits, iceberg_schema, names, ownership
from aurora_lake.catalog.iceberg_io import Boto3FileIO, read_footer, split_uri
from aurora_lake.errors import aws_error, error_code
from aurora_lake.observability import logger

FORMAT_VERSION = 2
NAME_MAPPING_PROPERTY = "schema.name-mapping.default"
# Snapshot summary properties (strings) that say which export a snapshot is.
SUMMARY_EXPORT = "aurora_lake.export_task_identifier"
SUMMARY_SOURCE_TIME = "aurora_lake.source_snapshot_time"
SUMMARY_EXPORT_STARTED = "aurora_lake.export_task_start_time"
# Glue parameters an Iceberg table must carry for Athena (Athena User Guide, "Creating Iceberg tables").
TABLE_TYPE, ICEBERG, METADATA_LOCATION, PREVIOUS_METADATA_LOCATION = "table_type", "ICEBERG", "metadata_location", "previous_metadata_location"
# Older metadata files kept in the metadata log (Iceberg's write.metadata.previous-versions-max, shorter).
METADATA_LOG_KEEP = 5
MAX_COMMIT_ATTEMPTS = 4
MAX_ARCHIVES = names.MAX_ARCHIVES
AVRO_COMPRESSION = "deflate"  # what Iceberg's default "gzip" codec is in Avro
_METADATA_NAME = re.compile(r"(\d+)-[0-9a-f-]+\.metadata\.json$")
_ARCHIVE_SUFFIX = re.compile(r"__(\d+)$")

# -- what a commit is given --------------------------------------------------------------------


@dataclass(frozen=True)
class ExportedColumn:
    source_name: str  # as RDS reports it (and writes it in the Parquet files)
    athena_type: str  # catalog.types
    original_type: str = ""  # the source database's type, kept as the column's comment


@dataclass(frozen=True)
class ExportFile:
    uri: str
    size: int


@dataclass(frozen=True)
class TableExport:
    """One export of one source table."""

    export_id: str
    source_time_ms: int  # ExportTask.SnapshotTime
    export_started_ms: int  # ExportTask.TaskStartTime: the files are no older (their lifecycle counts from it)
    columns: tuple[ExportedColumn, ...]
    files: tuple[ExportFile, ...]


@dataclass(frozen=True)
class Target:
    """Where a source table's Iceberg table lives and whose it is."""

    database: str
    name: str  # the latest name
    warehouse: str  # s3://BUCKET/iceberg/ : the table's folder is WAREHOUSE + DATABASE/NAME/UUID/
    owner: Mapping[str, str]  # ownership record of the latest table (any export id)
    description: str = ""

    def folder(self, table_uuid: str) -> str:
        return f"{self.warehouse}{self.database}/{self.name}/{table_uuid}"


class TableRefused(Exception):
    """The table cannot take this export; the reason is the report's and the notification's."""


class _VersionChanged(Exception):
    """The Glue table changed since it was read (ConcurrentModificationException, or a create race)."""


# -- Glue ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GlueTable:
    name: str
    parameters: dict[str, str]
    version_id: str | None
    location: str

    @property
    def is_iceberg(self) -> bool:
        return self.parameters.get(TABLE_TYPE, "").upper() == ICEBERG and bool(self.parameters.get(METADATA_LOCATION))

    @property
    def metadata_location(self) -> str:
        return self.parameters.get(METADATA_LOCATION, "")


def read_glue_table(glue: Any, database: str, name: str) -> GlueTable | None:
    try:
        table = glue.get_table(DatabaseName=database, Name=name)["Table"]
    except Exception as exc:
        if error_code(exc) == "EntityNotFoundException":
            return None
        if hasattr(exc, "response"):
            raise aws_error(exc) from exc
        raise
    return GlueTable(
        name=table["Name"], parameters={str(k): str(v) for k, v in (table.get("Parameters") or {}).items()},
        version_id=table.get("VersionId"), location=str((table.get("StorageDescriptor") or {}).get("Location") or ""),
    )


def load_metadata(io: Boto3FileIO, location: str) -> TableMetadata:
    return FromInputFile.table_metadata(io.new_input(location))


def table_input(name: str, metadata: TableMetadata, location: str, parameters: Mapping[str, str], description: str = "") -> dict[str, Any]:
    """The Glue TableInput of an Iceberg table: what Athena reads (table_type, metadata_location) and the current columns."""
    schema = metadata.schema()
    columns = []
    for column in schema.fields:
        entry: dict[str, Any] = {
            "Name": column.name, "Type": iceberg_schema.hive_type(column.field_type),  # type: ignore[arg-type]
            "Parameters": {"iceberg.field.id": str(column.field_id), "iceberg.field.optional": "true", "iceberg.field.current": "true"},
        }
        if column.doc:
            entry["Comment"] = column.doc[: glue_limits.COMMENT_MAX]
        columns.append(entry)
    result: dict[str, Any] = {
        "Name": name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": dict(parameters),
        "StorageDescriptor": {"Location": location, "Columns": columns},
    }
    if description:
        result["Description"] = description[: glue_limits.DESCRIPTION_MAX]
    return result


# -- snapshots and their exports -------------------------------------------------------------------


def iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def from_iso(text: str) -> int:
    return int(round(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000))


def export_of(snapshot: Snapshot) -> str | None:
    return (snapshot.summary or {}).get(SUMMARY_EXPORT)  # type: ignore[return-value]


def export_started_ms(snapshot: Snapshot) -> int:
    text = (snapshot.summary or {}).get(SUMMARY_EXPORT_STARTED)
    return from_iso(text) if text else snapshot.timestamp_ms  # type: ignore[arg-type]


def ordered_snapshots(metadata: TableMetadata | None) -> list[Snapshot]:
    """The table's snapshots, oldest source time first."""
    return [] if metadata is None else sorted(metadata.snapshots, key=lambda snapshot: (snapshot.timestamp_ms, snapshot.sequence_number or 0))


def snapshot_rows(snapshot: Snapshot) -> int:
    return int((snapshot.summary or {}).get("total-records") or 0)


def _new_id() -> int:
    return uuid.uuid4().int & ((1 << 63) - 1)


# -- columns -----------------------------------------------------------------------------------------


@dataclass
class ColumnPlan:
    fields: list[NestedField]  # the export's schema, in its column order
    spellings: dict[int, str]  # field id -> the export's source spelling
    last_column_id: int
    widened: dict[int, PrimitiveType] = field(default_factory=dict)  # field id -> its new (wider) type
    refused: list[tuple[str, str, str]] = field(default_factory=list)  # (source name, table type, file type)


def known_fields(metadata: TableMetadata | None) -> dict[int, NestedField]:
    """Every field a retained snapshot (or the current schema) has, with its widest type."""
    if metadata is None:
        return {}
    schemas = {schema.schema_id: schema for schema in metadata.schemas}
    used = [schemas[snapshot.schema_id] for snapshot in ordered_snapshots(metadata) if snapshot.schema_id in schemas]
    used.append(metadata.schema())
    known: dict[int, NestedField] = {}
    for schema in used:
        for column in schema.fields:
            previous = known.get(column.field_id)
            if previous is None:
                known[column.field_id] = column
            elif iceberg_schema.change(previous.field_type, column.field_type) == iceberg_schema.WIDEN:  # type: ignore[arg-type]
                known[column.field_id] = column
    return known


def plan_columns(metadata: TableMetadata | None, columns: Sequence[tuple[ExportedColumn, PrimitiveType]]) -> ColumnPlan:
    """Field ids and types of an export's columns in a table (``metadata``: its state, None for a new table)."""
    known = known_fields(metadata)
    by_name: dict[str, int] = {}
    for field_id, column in sorted(known.items()):
        if by_name.setdefault(column.name, field_id) != field_id:
            raise TableRefused(f"the table's retained schemas give column {column.name!r} two field ids; it was changed by someone else")
    last = max([metadata.last_column_id if metadata is not None else 0, *known])
    plan = ColumnPlan(fields=[], spellings={}, last_column_id=last)
    for exported, incoming in columns:
        folded = names.column_name(exported.source_name)
        field_id = by_name.get(folded)
        kind: PrimitiveType = incoming
        if field_id is None:
            plan.last_column_id += 1
            field_id = by_name[folded] = plan.last_column_id
        else:
            table_type: PrimitiveType = known[field_id].field_type  # type: ignore[assignment]
            verdict = iceberg_schema.change(table_type, incoming)
            if verdict == iceberg_schema.REFUSED:
                plan.refused.append((exported.source_name, iceberg_schema.hive_type(table_type), iceberg_schema.hive_type(incoming)))
            elif verdict == iceberg_schema.WIDEN:
                plan.widened[field_id] = incoming
            else:
                kind = table_type
        plan.fields.append(NestedField(field_id=field_id, name=folded, field_type=kind, required=False, doc=exported.original_type or None))
        plan.spellings[field_id] = exported.source_name
    return plan


def name_mapping(previous: NameMapping | None, keep_ids: Iterable[int], spellings: Mapping[int, str]) -> NameMapping:
    """The name mapping: for every field id a retained schema has, every source spelling of it."""
    names_by_id: dict[int, list[str]] = {}
    for mapped in (previous.root if previous is not None else []):
        if mapped.field_id is not None:
            names_by_id[mapped.field_id] = list(mapped.names)
    for field_id, spelling in spellings.items():
        found = names_by_id.setdefault(field_id, [])
        if spelling not in found:
            found.append(spelling)
    keep = set(keep_ids)
    fields = [MappedField(field_id=field_id, names=spelled) for field_id, spelled in sorted(names_by_id.items()) if field_id in keep and spelled]
    folded: dict[str, int] = {}
    for mapped in fields:
        for spelling in mapped.names:
            owner = folded.setdefault(names.column_name(spelling), mapped.field_id)  # type: ignore[arg-type]
            if owner != mapped.field_id:
                raise TableRefused(f"source columns {spelling!r} of field {mapped.field_id} and field {owner} would share a name in the name mapping")
    return NameMapping(fields)


def mapping_of(metadata: TableMetadata | None) -> NameMapping | None:
    text = None if metadata is None else metadata.properties.get(NAME_MAPPING_PROPERTY)
    return parse_mapping_from_json(text) if text else None


# -- the Java reader's rules ------------------------------------------------------------------------


def java_ordering_problems(metadata: TableMetadata) -> list[str]:
    """What Java's TableMetadata (Athena's and Trino's reader) would refuse in ``metadata`` (without its 1-minute tolerance)."""
    problems = []
    log = metadata.snapshot_log
    for before, after in zip(log, log[1:]):
        if after.timestamp_ms < before.timestamp_ms:
            problems.append(f"snapshot log goes back in time: {before.timestamp_ms} then {after.timestamp_ms}")
    if log and metadata.last_updated_ms < log[-1].timestamp_ms:
        problems.append(f"last-updated-ms {metadata.last_updated_ms} is before the last snapshot log entry {log[-1].timestamp_ms}")
    files = metadata.metadata_log
    for before, after in zip(files, files[1:]):
        if after.timestamp_ms < before.timestamp_ms:
            problems.append(f"metadata log goes back in time: {before.timestamp_ms} then {after.timestamp_ms}")
    if files and metadata.last_updated_ms < files[-1].timestamp_ms:
        problems.append(f"last-updated-ms {metadata.last_updated_ms} is before the last metadata log entry {files[-1].timestamp_ms}")
    for snapshot in metadata.snapshots:
        if (snapshot.sequence_number or 0) > metadata.last_sequence_number:
            problems.append(f"snapshot {snapshot.snapshot_id} has sequence number {snapshot.sequence_number} above the last {metadata.last_sequence_number}")
    if metadata.current_snapshot_id is not None and metadata.snapshot_by_id(metadata.current_snapshot_id) is None:
        problems.append(f"current snapshot {metadata.current_snapshot_id} is not in the table")
    return problems


# -- reading an export's files ------------------------------------------------------------------------


@dataclass
class _ReadFiles:
    footers: list[tuple[ExportFile, Any]]  # (file, pyarrow FileMetaData)
    types: dict[str, PrimitiveType]  # source column name -> Iceberg type


def read_footers(io: Boto3FileIO, export: TableExport) -> _ReadFiles:
    """Every file's footer, checked against the export's columns; TableRefused naming each problem."""
    if not export.files:
        raise TableRefused("the export holds no data file of this table")
    footers = []
    flags: dict[str, set[bool]] = {}
    for file in export.files:
        metadata = read_footer(io.new_input(file.uri, size=file.size))
        footers.append((file, metadata))
        for name, utc in iceberg_schema.timestamp_flags(metadata.schema).items():
            flags.setdefault(name, set()).add(utc)
    mixed = sorted(name for name, seen in flags.items() if len(seen) > 1)
    if mixed:
        raise TableRefused(f"the files disagree on whether timestamp column(s) {', '.join(repr(n[:80]) for n in mixed)} are UTC-adjusted")
    types: dict[str, PrimitiveType] = {}
    try:
        for column in export.columns:
            types[column.source_name] = iceberg_schema.iceberg_type(column.athena_type, utc_adjusted=True in flags.get(column.source_name, set()))
    except iceberg_schema.UnsupportedColumn as exc:
        raise TableRefused(str(exc)) from None
    problems: list[str] = []
    for file, metadata in footers:
        for problem in iceberg_schema.footer_problems(metadata.schema, types):
            problems.append(f"{file.uri.rsplit('/', 1)[-1][:80]}: {problem}")
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise TableRefused("its files do not match the export's metadata: " + "; ".join(problems[:5]) + more)
    return _ReadFiles(footers, types)


def data_files(read: _ReadFiles, schema: Schema, spellings: Mapping[int, str], properties: Mapping[str, str]) -> list[DataFile]:
    """PyIceberg's DataFile of each file, its statistics keyed by field id through the source names."""
    mapping = {spellings[column.field_id]: column.field_id for column in schema.fields}
    plan = compute_statistics_plan(schema, dict(properties))
    result = []
    for file, metadata in read.footers:
        statistics = data_file_statistics_from_parquet_metadata(parquet_metadata=metadata, stats_columns=plan, parquet_column_mapping=mapping)
        result.append(DataFile.from_args(
            content=DataFileContent.DATA, file_path=file.uri, file_format=FileFormat.PARQUET,
            partition=statistics.partition(UNPARTITIONED_PARTITION_SPEC, schema), file_size_in_bytes=file.size,
            sort_order_id=None, spec_id=UNPARTITIONED_PARTITION_SPEC.spec_id, equality_ids=None, key_metadata=None,
            **statistics.to_serialized_dict(),
        ))
    return result


# -- the commit ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one commit did to one table: the drift log's row and the canary's candidate come from it."""

    table: str
    status: str  # created | converted | committed | unchanged | archived
    snapshot_id: int
    source_time_ms: int
    rows: int
    previous_export: str | None = None
    previous_rows: int | None = None
    previous_source_time_ms: int | None = None
    added: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    retyped: list[dict[str, str]] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)
    archived_as: str | None = None
    removed_snapshots: int = 0
    canary: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items()}


@dataclass
class _Written:
    """Files a commit wrote: deleted again if the commit does not happen."""

    io: Boto3FileIO
    paths: list[str] = field(default_factory=list)

    def discard(self) -> None:
        for path in self.paths:
            try:
                self.io.delete(path)
            except Exception as exc:  # the commit's own error matters more; a leftover file is only a cost
                logger.warning("File of a failed commit not deleted", extra={"path": path[:300], "error": type(exc).__name__})


def _metadata_path(folder: str, previous: str | None) -> str:
    version = 0
    if previous:
        found = _METADATA_NAME.search(previous)
        version = int(found.group(1)) if found else 0
    return f"{folder}/metadata/{version + 1:05d}-{uuid.uuid4()}.metadata.json"


def _entries(io: Boto3FileIO, snapshot: Snapshot) -> tuple[list[ManifestFile], list[ManifestEntry]]:
    """A snapshot's manifests and its live (ADDED or EXISTING) entries."""
    manifests = snapshot.manifests(io)
    live = [entry for manifest in manifests for entry in manifest.fetch_manifest_entry(io, discard_deleted=True)]
    return manifests, live


def _write_manifest(io: Boto3FileIO, folder: str, schema: Schema, snapshot_id: int, name: str,
                    added: Sequence[DataFile] = (), deleted: Sequence[ManifestEntry] = (), written: _Written | None = None) -> ManifestFile:
    path = f"{folder}/metadata/{name}"
    with write_manifest(format_version=FORMAT_VERSION, spec=UNPARTITIONED_PARTITION_SPEC, schema=schema, output_file=io.new_output(path),
                        snapshot_id=snapshot_id, avro_compression=AVRO_COMPRESSION) as writer:
        for data_file in added:
            writer.add(ManifestEntry.from_args(status=ManifestEntryStatus.ADDED, snapshot_id=snapshot_id, data_file=data_file))
        for entry in deleted:
            writer.delete(entry)
    if written is not None:
        written.paths.append(path)
    return writer.to_manifest_file()


def _write_manifest_list(io: Boto3FileIO, folder: str, snapshot_id: int, parent: int | None, sequence: int,
                         manifests: Sequence[ManifestFile], written: _Written) -> str:
    path = f"{folder}/metadata/snap-{snapshot_id}-{uuid.uuid4()}.avro"
    with write_manifest_list(format_version=FORMAT_VERSION, output_file=io.new_output(path), snapshot_id=snapshot_id,
                             parent_snapshot_id=parent, sequence_number=sequence, avro_compression=AVRO_COMPRESSION) as writer:
        writer.add_manifests(list(manifests))
    written.paths.append(path)
    return path


def _summary(operation: Operation, schema: Schema, added: Sequence[DataFile], deleted: Sequence[DataFile],
             previous: Mapping[str, str] | None, properties: Mapping[str, str]) -> Summary:
    collector = SnapshotSummaryCollector()
    for data_file in added:
        collector.add_file(data_file, schema=schema)
    for data_file in deleted:
        collector.remove_file(data_file, schema=schema)
    return update_snapshot_summaries(Summary(operation=operation, **collector.build(), **properties), previous_summary=previous)


@dataclass
class _Change:
    """The table's next state, built from its current one."""

    snapshots: list[Snapshot]  # in source-time order
    schemas: dict[int, Schema]
    current_schema_id: int
    last_column_id: int
    last_sequence_number: int
    mapping: NameMapping
    removed: list[Snapshot] = field(default_factory=list)


def _matching_schema(schemas: Mapping[int, Schema], fields: Sequence[NestedField]) -> int | None:
    wanted = tuple(fields)
    for schema_id, schema in schemas.items():
        if tuple(schema.fields) == wanted:
            return schema_id
    return None


def _add_schema(schemas: dict[int, Schema], fields: Sequence[NestedField]) -> int:
    found = _matching_schema(schemas, fields)
    if found is not None:
        return found
    schema_id = max(schemas, default=-1) + 1
    schemas[schema_id] = Schema(*fields, schema_id=schema_id)
    return schema_id


def _assemble(base: TableMetadata | None, folder: str, change: _Change, properties: Mapping[str, str],
              previous_location: str | None, table_uuid: str) -> TableMetadata:
    """The table metadata of ``change``: snapshots chained in source-time order, the newest current."""
    snapshots = []
    parent = None
    for snapshot in change.snapshots:
        snapshots.append(snapshot.model_copy(update={"parent_snapshot_id": parent}))
        parent = snapshot.snapshot_id
    used_schemas = {snapshot.schema_id for snapshot in snapshots} | {change.current_schema_id}
    schemas = [schema for schema_id, schema in sorted(change.schemas.items()) if schema_id in used_schemas]
    newest = snapshots[-1]
    last_updated = newest.timestamp_ms if base is None else max(newest.timestamp_ms, base.last_updated_ms + 1)
    metadata_log = list(base.metadata_log) if base is not None else []
    if base is not None and previous_location:
        metadata_log.append(MetadataLogEntry(metadata_file=previous_location, timestamp_ms=base.last_updated_ms))
    metadata_log = metadata_log[-METADATA_LOG_KEEP:]
    template = base if base is not None else new_table_metadata(
        schema=schemas[0], partition_spec=UNPARTITIONED_PARTITION_SPEC, sort_order=UNSORTED_SORT_ORDER,
        location=folder, properties={"format-version": str(FORMAT_VERSION)}, table_uuid=uuid.UUID(table_uuid),
    )
    metadata = template.model_copy(update={
        "location": folder,
        "schemas": schemas,
        "current_schema_id": change.current_schema_id,
        "last_column_id": change.last_column_id,
        "snapshots": snapshots,
        "current_snapshot_id": newest.snapshot_id,
        "refs": {"main": SnapshotRef(snapshot_id=newest.snapshot_id, snapshot_ref_type=SnapshotRefType.BRANCH)},
        "snapshot_log": [SnapshotLogEntry(snapshot_id=s.snapshot_id, timestamp_ms=s.timestamp_ms) for s in snapshots],
        "metadata_log": metadata_log,
        "last_sequence_number": change.last_sequence_number,
        "last_updated_ms": last_updated,
        "properties": {**dict(template.properties), **dict(properties), NAME_MAPPING_PROPERTY: change.mapping.model_dump_json()},
    })
    # PyIceberg's own validation of the whole document, as a reader parses it.
    parsed = TableMetadataUtil.parse_raw(metadata.model_dump_json(exclude_none=True))
    problems = java_ordering_problems(parsed)
    if problems:
        raise RuntimeError("refusing to write table metadata that Athena could not load: " + "; ".join(problems))
    return parsed


class Committer:
    """Commits exports to the Iceberg tables of one Glue database (thread-safe: one per step)."""

    def __init__(self, glue: Any, database: str, warehouse: str) -> None:
        self.glue, self.database, self.warehouse = glue, database, warehouse

    def io_for(self, folder: str | None) -> Boto3FileIO:
        return Boto3FileIO(deletable=[folder + "/metadata/"] if folder else [])

    # -- one export ------------------------------------------------------------------------------

    def commit_export(self, target: Target, export: TableExport, *, expire_before_ms: int | None = None,
                      archive_on_refused: bool = True) -> Outcome:
        """Register ``export`` as a snapshot of ``target``'s table (created, converted from 2.x, or archived as needed)."""
        for _ in range(MAX_COMMIT_ATTEMPTS):
            current = read_glue_table(self.glue, target.database, target.name)
            try:
                return self._commit_once(target, export, current, expire_before_ms, archive_on_refused)
            except _VersionChanged:
                logger.info("Glue table changed while committing; committing again", extra={"table": target.name})
        raise RuntimeError(f"table {target.name} kept changing under {MAX_COMMIT_ATTEMPTS} commits; run the export again")

    def _check_owner(self, target: Target, current: GlueTable | None) -> None:
        if current is not None and not ownership.same_owner(current.parameters, {**target.owner, ownership.TABLE_ROLE: ownership.LATEST}):
            raise TableRefused(f"the table name {target.name} is taken by {ownership.owner_text(current.parameters)}; that table is left as it is")

    def _commit_once(self, target: Target, export: TableExport, current: GlueTable | None,
                     expire_before_ms: int | None, archive_on_refused: bool) -> Outcome:
        self._check_owner(target, current)
        base: TableMetadata | None = None
        if current is not None and current.is_iceberg:
            base = load_metadata(self.io_for(None), current.metadata_location)
            done = next((s for s in base.snapshots if export_of(s) == export.export_id), None)
            if done is not None:
                return self._unchanged(target, base, done)
        folder = base.location if base is not None else target.folder(str(uuid.uuid4()))
        io = self.io_for(folder)
        read = read_footers(io, export)
        ordered_columns = [(column, read.types[column.source_name]) for column in export.columns]
        plan = plan_columns(base, ordered_columns)
        if plan.refused:
            if not archive_on_refused or base is None:
                raise TableRefused(self._refused_text(plan))
            return self._archive_and_start_again(target, export, current, base, plan)
        written = _Written(io)
        try:
            change, outcome = self._place(io, folder, base, export, read, plan, expire_before_ms, written, target.name)
            table_uuid = str(base.table_uuid) if base is not None else folder.rsplit("/", 1)[-1]
            metadata = _assemble(base, folder, change, {}, current.metadata_location if current is not None and current.is_iceberg else None, table_uuid)
            location = self._write_metadata(io, folder, metadata, current.metadata_location if current is not None and current.is_iceberg else None, written)
            self._swap(target, current, metadata, location, self._current_export(metadata))
        except BaseException:
            written.discard()
            raise
        outcome.status = "created" if current is None else ("converted" if not current.is_iceberg else "committed")
        self._clean_up(io, base, metadata, change.removed, outcome)
        return outcome

    @staticmethod
    def _current_export(metadata: TableMetadata) -> str:
        current = metadata.current_snapshot()
        return (export_of(current) or "") if current is not None else ""

    @staticmethod
    def _refused_text(plan: ColumnPlan) -> str:
        shown = "; ".join(f"column {name[:80]!r} changed from {before} to {after}" for name, before, after in plan.refused[:5])
        return f"its column types changed in a way Iceberg cannot evolve ({shown})"

    def _unchanged(self, target: Target, base: TableMetadata, snapshot: Snapshot) -> Outcome:
        """A re-run: the export is already in the table; its drift is read back from the metadata."""
        ordered = ordered_snapshots(base)
        index = next(i for i, s in enumerate(ordered) if s.snapshot_id == snapshot.snapshot_id)
        previous = ordered[index - 1] if index else None
        outcome = Outcome(table=target.name, status="unchanged", snapshot_id=snapshot.snapshot_id,
                          source_time_ms=snapshot.timestamp_ms, rows=snapshot_rows(snapshot))
        schemas = {schema.schema_id: schema for schema in base.schemas}
        _describe_drift(outcome, schemas.get(snapshot.schema_id), previous, schemas.get(previous.schema_id) if previous else None)
        if _needs_canary(outcome):
            outcome.canary = self._canary_from_manifests(base, snapshot, schemas.get(snapshot.schema_id), outcome)
        return outcome

    def _canary_from_manifests(self, base: TableMetadata, snapshot: Snapshot, schema: Schema | None, outcome: Outcome) -> dict[str, Any] | None:
        if schema is None:
            return None
        _, live = _entries(self.io_for(None), snapshot)
        mapping = mapping_of(base)
        spellings = {m.field_id: m.names[-1] for m in (mapping.root if mapping else []) if m.field_id is not None and m.names}
        return _canary([entry.data_file for entry in live], schema, spellings, outcome)

    def _place(self, io: Boto3FileIO, folder: str, base: TableMetadata | None, export: TableExport, read: _ReadFiles,
               plan: ColumnPlan, expire_before_ms: int | None, written: _Written, table: str) -> tuple[_Change, Outcome]:
        """Write the export's snapshot files and work out the table's next state."""
        schemas = {schema.schema_id: schema for schema in base.schemas} if base is not None else {}
        ordered = ordered_snapshots(base)
        replaced = [s for s in ordered if s.timestamp_ms == export.source_time_ms]
        ordered = [s for s in ordered if s.timestamp_ms != export.source_time_ms]
        position = sum(1 for s in ordered if s.timestamp_ms < export.source_time_ms)
        predecessor = ordered[position - 1] if position else None
        successor = ordered[position] if position < len(ordered) else None
        becomes_current = successor is None

        snapshot_fields = [f if f.field_id not in plan.widened else f.model_copy(update={"field_type": plan.widened[f.field_id]}) for f in plan.fields]
        snapshot_schema_id = _add_schema(schemas, snapshot_fields)
        if becomes_current:
            current_schema_id = snapshot_schema_id
        else:  # an older export: the current columns stay, widened where it brought a wider type
            assert base is not None
            current_fields = [f if f.field_id not in plan.widened else f.model_copy(update={"field_type": plan.widened[f.field_id]})
                              for f in base.schema().fields]
            current_schema_id = _add_schema(schemas, current_fields) if plan.widened else base.current_schema_id
        snapshot_schema = schemas[snapshot_schema_id]

        properties = dict(base.properties) if base is not None else {}
        added_files = data_files(read, snapshot_schema, plan.spellings, properties)
        sequence = (base.last_sequence_number if base is not None else 0) + 1
        snapshot_id = _new_id()
        commit = uuid.uuid4()
        predecessor_manifests: list[ManifestEntry] = []
        if predecessor is not None:
            _, predecessor_manifests = _entries(io, predecessor)
        manifests = [_write_manifest(io, folder, snapshot_schema, snapshot_id, f"{commit}-m0.avro", added=added_files, written=written)]
        if predecessor_manifests:
            manifests.append(_write_manifest(io, folder, snapshot_schema, snapshot_id, f"{commit}-m1.avro", deleted=predecessor_manifests, written=written))
        parent = predecessor.snapshot_id if predecessor is not None else None
        manifest_list = _write_manifest_list(io, folder, snapshot_id, parent, sequence, manifests, written)
        summary = _summary(
            Operation.OVERWRITE if predecessor is not None else Operation.APPEND, snapshot_schema, added_files,
            [entry.data_file for entry in predecessor_manifests], predecessor.summary if predecessor is not None else None,
            {SUMMARY_EXPORT: export.export_id, SUMMARY_SOURCE_TIME: iso(export.source_time_ms), SUMMARY_EXPORT_STARTED: iso(export.export_started_ms)},
        )
        new = Snapshot(snapshot_id=snapshot_id, parent_snapshot_id=parent, sequence_number=sequence, timestamp_ms=export.source_time_ms,
                       manifest_list=manifest_list, summary=summary, schema_id=snapshot_schema_id)
        snapshots = ordered[:position] + [new] + ordered[position:]
        removed = list(replaced)
        dropped_count = len(replaced)
        if successor is not None:  # the next export now follows this one: its DELETED manifest names this export's files
            rewritten = self._follow(io, folder, successor, new, added_files, sequence, schemas, written)
            removed.append(successor)  # its old manifest list and DELETED manifest go (same snapshot id, new files)
            snapshots[position + 1] = rewritten
        if expire_before_ms is not None:
            expired = {s.snapshot_id for s in snapshots[:-1] if s.snapshot_id != snapshot_id and export_started_ms(s) < expire_before_ms}
            removed += [s for s in snapshots if s.snapshot_id in expired]
            snapshots = [s for s in snapshots if s.snapshot_id not in expired]
            dropped_count += len(expired)
        keep_ids = {f.field_id for s in snapshots for f in schemas[s.schema_id].fields} | {f.field_id for f in schemas[current_schema_id].fields}
        mapping = name_mapping(mapping_of(base), keep_ids, plan.spellings)
        change = _Change(snapshots=snapshots, schemas=schemas, current_schema_id=current_schema_id, last_column_id=plan.last_column_id,
                         last_sequence_number=sequence, mapping=mapping, removed=removed)
        outcome = Outcome(table=table, status="committed", snapshot_id=snapshot_id, source_time_ms=export.source_time_ms,
                          rows=sum(f.record_count for f in added_files), removed_snapshots=dropped_count)
        _describe_drift(outcome, snapshot_schema, predecessor, schemas.get(predecessor.schema_id) if predecessor is not None else None)
        if _needs_canary(outcome):
            outcome.canary = _canary(added_files, snapshot_schema, plan.spellings, outcome)
        return change, outcome

    def _follow(self, io: Boto3FileIO, folder: str, successor: Snapshot, new: Snapshot, new_files: Sequence[DataFile],
                new_sequence: int, schemas: Mapping[int, Schema], written: _Written) -> Snapshot:
        """``successor`` written again to follow ``new``: its own files stay, its DELETED manifest names ``new``'s."""
        manifests = successor.manifests(io)
        own = [m for m in manifests if m.has_added_files() or m.has_existing_files()]
        schema = schemas[successor.schema_id] if successor.schema_id in schemas else next(iter(schemas.values()))
        deleted_entries = [ManifestEntry.from_args(status=ManifestEntryStatus.ADDED, snapshot_id=new.snapshot_id, sequence_number=new_sequence,
                                                   file_sequence_number=new_sequence, data_file=f) for f in new_files]
        commit = uuid.uuid4()
        replacement = list(own)
        if deleted_entries:
            replacement.append(_write_manifest(io, folder, schema, successor.snapshot_id, f"{commit}-m1.avro", deleted=deleted_entries, written=written))
        manifest_list = _write_manifest_list(io, folder, successor.snapshot_id, new.snapshot_id, successor.sequence_number or 0, replacement, written)
        own_files = [e.data_file for m in own for e in m.fetch_manifest_entry(io, discard_deleted=True)]
        base_summary = {k: v for k, v in (successor.summary.additional_properties if successor.summary else {}).items() if k.startswith("aurora_lake.")}
        summary = _summary(Operation.OVERWRITE, schema, own_files, list(new_files), new.summary, base_summary)
        return successor.model_copy(update={"manifest_list": manifest_list, "summary": summary})

    def _archive_and_start_again(self, target: Target, export: TableExport, current: GlueTable | None,
                                 base: TableMetadata, plan: ColumnPlan) -> Outcome:
        """A type change Iceberg cannot take: the history so far becomes an archived table, the latest name starts again."""
        assert current is not None
        archives = self.archives(target.name)
        same = next((name for name, table in archives.items() if table.metadata_location == current.metadata_location), None)
        if same is None:
            free = [n for n in range(1, MAX_ARCHIVES + 1) if names.archived_table_name(target.name, n) not in archives]
            if not free:
                raise TableRefused(self._refused_text(plan) + f"; its history is already kept in {MAX_ARCHIVES} archived tables (the most kept): "
                                   "drop one of them, or let their exports expire, to start a new history")
            same = names.archived_table_name(target.name, free[0])
            archived = table_input(same, base, base.location, {
                **{k: v for k, v in current.parameters.items() if k not in (PREVIOUS_METADATA_LOCATION,)},
                ownership.TABLE_ROLE: ownership.ARCHIVED,
            }, f"{target.owner.get(ownership.SOURCE_TABLE, target.name)}: history before a column type change")
            problems = glue_limits.table_input_problems(archived)
            if problems:
                raise TableRefused(self._refused_text(plan) + "; its archived table would be refused by Glue: " + "; ".join(problems[:3]))
            try:
                self.glue.create_table(DatabaseName=target.database, TableInput=archived)
            except Exception as exc:
                if error_code(exc) == "AlreadyExistsException":
                    raise _VersionChanged() from exc
                if hasattr(exc, "response"):
                    raise aws_error(exc) from exc
                raise
        # The latest name starts a new generation: a new folder, new field ids, this export only.
        fresh = self._commit_once(target, export, GlueTable(current.name, {k: v for k, v in current.parameters.items() if k not in (TABLE_TYPE, METADATA_LOCATION)},
                                                             current.version_id, current.location), None, archive_on_refused=False)
        fresh.status = "archived"
        fresh.archived_as = same
        fresh.refused = [{"column": name, "from": before, "to": after} for name, before, after in plan.refused]
        previous = ordered_snapshots(base)[-1]
        fresh.previous_export, fresh.previous_rows, fresh.previous_source_time_ms = export_of(previous), snapshot_rows(previous), previous.timestamp_ms
        return fresh

    def archives(self, name: str) -> dict[str, GlueTable]:
        """The archived tables of a latest name (``_{name}__{n}``)."""
        found = {}
        for n in range(1, MAX_ARCHIVES + 1):
            archive_name = names.archived_table_name(name, n)
            table = read_glue_table(self.glue, self.database, archive_name)
            if table is not None:
                found[archive_name] = table
        return found

    # -- writing --------------------------------------------------------------------------------

    @staticmethod
    def _write_metadata(io: Boto3FileIO, folder: str, metadata: TableMetadata, previous: str | None, written: _Written) -> str:
        location = _metadata_path(folder, previous)
        with io.new_output(location).create() as stream:
            stream.write(metadata.model_dump_json(exclude_none=True).encode())
        written.paths.append(location)
        return location

    def _swap(self, target: Target, current: GlueTable | None, metadata: TableMetadata, location: str, export_id: str) -> None:
        parameters = {**dict(target.owner), ownership.TABLE_ROLE: ownership.LATEST, ownership.EXPORT: export_id,
                      "EXTERNAL": "TRUE", TABLE_TYPE: ICEBERG, METADATA_LOCATION: location}
        if current is not None and current.is_iceberg:
            parameters[PREVIOUS_METADATA_LOCATION] = current.metadata_location
        self.write_glue(target.database, table_input(target.name, metadata, metadata.location, parameters, target.description), current)

    def write_glue(self, database: str, table: dict[str, Any], current: GlueTable | None) -> None:
        """CreateTable, or UpdateTable at the version read (SkipArchive): _VersionChanged when another writer came first."""
        problems = glue_limits.table_input_problems(table)
        if problems:
            raise TableRefused("Glue would refuse its definition: " + "; ".join(problems[:5]))
        try:
            if current is None:
                self.glue.create_table(DatabaseName=database, TableInput=table)
            else:
                request: dict[str, Any] = {"DatabaseName": database, "TableInput": table, "SkipArchive": True}
                if current.version_id is not None:
                    request["VersionId"] = current.version_id
                self.glue.update_table(**request)
        except Exception as exc:
            if error_code(exc) in ("ConcurrentModificationException", "AlreadyExistsException", "EntityNotFoundException"):
                raise _VersionChanged() from exc
            if hasattr(exc, "response"):
                raise aws_error(exc) from exc
            raise

    def _clean_up(self, io: Boto3FileIO, base: TableMetadata | None, metadata: TableMetadata, removed: Sequence[Snapshot], outcome: Outcome) -> None:
        """Delete the files of removed snapshots and of metadata versions that left the log (under the table's metadata folder only)."""
        paths: list[str] = []
        kept_lists = {s.manifest_list for s in metadata.snapshots}
        for snapshot in removed:
            if snapshot.manifest_list in kept_lists:
                continue
            try:
                kept = {m.manifest_path for s in metadata.snapshots if s.snapshot_id == snapshot.snapshot_id for m in s.manifests(io)}
                paths += [m.manifest_path for m in snapshot.manifests(io) if m.manifest_path not in kept]
            except FileNotFoundError:
                pass
            paths.append(snapshot.manifest_list)
        if base is not None:
            still = {entry.metadata_file for entry in metadata.metadata_log}
            paths += [entry.metadata_file for entry in base.metadata_log if entry.metadata_file not in still]
        for path in dict.fromkeys(paths):
            try:
                io.delete(path)
            except PermissionError as exc:
                logger.warning("Refused to delete a file outside the table's metadata folder", extra={"table": outcome.table, "path": path[:300], "error": str(exc)[:300]})
            except Exception as exc:
                logger.warning("Unreferenced table file not deleted", extra={"table": outcome.table, "path": path[:300], "error": type(exc).__name__})

    # -- retention ------------------------------------------------------------------------------

    def remove_exports(self, database: str, name: str, export_ids: Iterable[str], stack: str) -> str:
        """Remove the snapshots of ``export_ids`` from a table of this stack (latest or archived); drop it when none is left.

        Returns ``absent`` (no such table of this stack), ``unchanged``, ``removed`` or ``dropped``.
        """
        wanted = set(export_ids)
        for _ in range(MAX_COMMIT_ATTEMPTS):
            current = read_glue_table(self.glue, database, name)
            if current is None or not current.is_iceberg or current.parameters.get(ownership.STACK) != stack \
                    or current.parameters.get(ownership.TABLE_ROLE) not in (ownership.LATEST, ownership.ARCHIVED):
                return "absent"
            base = load_metadata(self.io_for(None), current.metadata_location)
            gone = [s for s in base.snapshots if export_of(s) in wanted]
            if not gone:
                return "unchanged"
            io = self.io_for(base.location)
            gone_ids = {s.snapshot_id for s in gone}
            left = [s for s in ordered_snapshots(base) if s.snapshot_id not in gone_ids]
            try:
                if not left:
                    self._drop(database, current, base, io)
                    return "dropped"
                schemas = {schema.schema_id: schema for schema in base.schemas}
                keep_ids = {f.field_id for s in left for f in schemas[s.schema_id].fields} | {f.field_id for f in base.schema().fields}
                change = _Change(snapshots=left, schemas=schemas, current_schema_id=base.current_schema_id, last_column_id=base.last_column_id,
                                 last_sequence_number=base.last_sequence_number, mapping=name_mapping(mapping_of(base), keep_ids, {}), removed=gone)
                written = _Written(io)
                try:
                    metadata = _assemble(base, base.location, change, {}, current.metadata_location, str(base.table_uuid))
                    location = self._write_metadata(io, base.location, metadata, current.metadata_location, written)
                    parameters = {**current.parameters, METADATA_LOCATION: location, PREVIOUS_METADATA_LOCATION: current.metadata_location,
                                  ownership.EXPORT: self._current_export(metadata)}
                    self.write_glue(database, table_input(name, metadata, metadata.location, parameters, ""), current)
                except BaseException:
                    written.discard()
                    raise
            except _VersionChanged:
                continue
            self._clean_up(io, base, metadata, gone, Outcome(table=name, status="removed", snapshot_id=0, source_time_ms=0, rows=0))
            return "removed"
        raise RuntimeError(f"table {name} kept changing under {MAX_COMMIT_ATTEMPTS} attempts to expire its snapshots")

    def _drop(self, database: str, current: GlueTable, base: TableMetadata, io: Boto3FileIO) -> None:
        """Every snapshot expired: the Glue table goes, then its metadata folder (the FileIO deletes nowhere else)."""
        try:
            self.glue.delete_table(DatabaseName=database, Name=current.name)
        except Exception as exc:
            if error_code(exc) != "EntityNotFoundException":
                if hasattr(exc, "response"):
                    raise aws_error(exc) from exc
                raise
        delete_folder(io, base.location + "/metadata/")


def delete_folder(io: Boto3FileIO, prefix: str, limit: int = 10_000) -> int:
    """Delete the objects under ``prefix`` (a table's metadata folder), at most ``limit``; returns how many."""
    bucket, key = split_uri(prefix + "x")
    key = key[:-1]
    s3 = clients.client("s3")
    deleted = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        for item in page.get("Contents", []):
            if deleted >= limit:
                return deleted
            io.delete(f"s3://{bucket}/{item['Key']}")
            deleted += 1
    return deleted


# -- drift and canary -------------------------------------------------------------------------------


def _describe_drift(outcome: Outcome, schema: Schema | None, previous: Snapshot | None, previous_schema: Schema | None) -> None:
    if previous is None:
        return
    outcome.previous_export = export_of(previous)
    outcome.previous_rows = snapshot_rows(previous)
    outcome.previous_source_time_ms = previous.timestamp_ms
    if schema is None or previous_schema is None:
        return
    now = {f.field_id: f for f in schema.fields}
    before = {f.field_id: f for f in previous_schema.fields}
    outcome.added = [now[i].name for i in now if i not in before]
    outcome.dropped = [before[i].name for i in before if i not in now]
    outcome.retyped = [{"column": now[i].name, "from": iceberg_schema.hive_type(before[i].field_type), "to": iceberg_schema.hive_type(now[i].field_type)}  # type: ignore[arg-type]
                       for i in now if i in before and now[i].field_type != before[i].field_type]


def _needs_canary(outcome: Outcome) -> bool:
    """A new table, or columns its readers have not read before: what a reader without the name mapping would read as NULL."""
    return outcome.previous_export is None or bool(outcome.added or outcome.retyped)


def _canary(files: Sequence[DataFile], schema: Schema, spellings: Mapping[int, str], outcome: Outcome) -> dict[str, Any] | None:
    """The column a canary query counts, with what the manifests say it holds (None when no column has null counts)."""
    rows = sum(f.record_count for f in files)
    candidates = []
    for column in schema.fields:
        counts = [f.null_value_counts.get(column.field_id) for f in files]
        if any(count is None for count in counts):
            continue  # a file without statistics for it: its exact count is unknown
        non_null = rows - sum(counts)  # type: ignore[arg-type]
        if non_null <= 0:
            continue
        spelled = spellings.get(column.field_id, column.name)
        preference = (column.name not in outcome.added, spelled == column.name, column.field_id)
        candidates.append((preference, column.name, non_null))
    size = sum(f.file_size_in_bytes for f in files)
    if not candidates:
        return {"column": None, "rows": rows, "non_null": None, "bytes": size, "snapshot_id": outcome.snapshot_id}
    _, column_name, non_null = min(candidates)
    return {"column": column_name, "rows": rows, "non_null": non_null, "bytes": size, "snapshot_id": outcome.snapshot_id}


# Read by tests: the PyIceberg names this module relies on (a change in PyIceberg fails them).
PYICEBERG_NAMES: dict[str, Callable[..., Any] | type] = {
    "pyiceberg.manifest.write_manifest": write_manifest,
    "pyiceberg.manifest.write_manifest_list": write_manifest_list,
    "pyiceberg.io.pyarrow.data_file_statistics_from_parquet_metadata": data_file_statistics_from_parquet_metadata,
    "pyiceberg.io.pyarrow.compute_statistics_plan": compute_statistics_plan,
    "pyiceberg.table.snapshots.update_snapshot_summaries": update_snapshot_summaries,
    "pyiceberg.table.metadata.new_table_metadata": new_table_metadata,
    "pyiceberg.table.snapshots.Snapshot": Snapshot,
}

__all__ = ["Committer", "ExportFile", "ExportedColumn", "Outcome", "TableExport", "TableRefused", "Target", "json"]
