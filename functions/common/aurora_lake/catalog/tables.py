"""CreateAthenaTables: every exported table as an Apache Iceberg table, at any table count.

The step runs in a loop of the state machine until ``$.athena.done`` is true. Each invocation
does the next part of the work and returns where it stopped; the state stays a few KiB whatever
the table count, everything else is in S3 under ``athena-plans/<account>/<export id>/``:

1. **plan** (the first invocation): read every metadata file of the export, map every column type,
   derive every name, list the export's data files once, and check everything before any table
   changes. A table that cannot be catalogued is left out with its reason (the run is then
   PARTIAL): names that collide after folding, folders that nest or are shared, names the
   metadata cannot place (a dot or an empty name makes a target several tables may stand for:
   ``export_metadata.UnplacedTable``) and tables whose folder may hold their files, names holding
   ``/``, definitions Glue would refuse, names taken by a table of another source or not created
   by the stack (``ownership``), a folder without data files, and new tables past the source's cap
   (``MaxTablesPerSource``: the source's existing tables keep being exported; the new ones left
   out, in name order, say so). The plan (every table, its columns and files) and the report
   (every table and every missing one, with reasons) are written to S3, and the export is recorded
   in the ledger (``retention``) before the first commit. A type with no known Athena type fails
   the step, naming every such column; with ``FAIL_ON_PARTIAL_EXPORT=true`` a partial plan fails
   it before any table changes.
2. **commit**: each table's export becomes one snapshot of its Iceberg table (``iceberg``), up
   to ``glue_workers`` tables at once, until the invocation's budget is spent. Each invocation
   writes the outcomes of the tables it finished (``results/``). A table whose files do not
   match the metadata, or whose column types changed beyond what its archived histories can
   keep, is left out with the reason. A commit is idempotent: done again, it changes nothing.
3. **canary**: Athena counts a few of the tables this run created or changed, at the snapshot
   just written, and the counts must be the manifests' exact ones (``canary``).
4. **finish**: the drift log of this export (``drift``), the final report, the run's summary.
5. **retention**: clean-up after expired exports, bounded, resumed by the next run (``retention``).
"""

from __future__ import annotations

import bisect
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aurora_lake import clients, clock, exports, limits, naming, run_report, sources
from aurora_lake.catalog import canary, drift, glue_limits, iceberg, iceberg_schema, names, ownership, retention
from aurora_lake.catalog.runner import DEFAULT_WORKERS, run_parallel
from aurora_lake.catalog.types import UnknownExportedType, athena_type
from aurora_lake.errors import (
    ExportMetadataInvalid,
    InvalidInput,
    PartialExport,
    UnmappableColumnType,
    aws_error,
    error_code,
)
from aurora_lake.export_metadata import (
    EXPORT_LEVEL,
    ExportedTable,
    ExportLocation,
    SkippedTable,
    is_data_file,
    UnplacedTable,
    read_export_metadata,
    skipped_from_warning,
)
from aurora_lake.observability import logger

PLAN_PREFIX = naming.ATHENA_PLANS_FOLDER
PLAN_VERSION = 3
DEFAULT_MAX_TABLES_PER_SOURCE = 5000
# Bounds on what the state carries; the report in S3 has everything.
MISSING_IN_RESULT = 10
REASON_CHARS = 300
PROBLEMS_IN_ERROR = 20
# The retention phase gets an invocation of its own when less than this is left.
RETENTION_MIN_SECONDS = 60.0
PHASES = ("commit", "canary", "finish", "retention")
UNPLACED_NAMED = 3  # unplaced tables a reason names


@dataclass(frozen=True)
class Settings:
    glue_database: str
    workgroup: str
    plan_bucket: str | None = None  # default: the export's own bucket
    fail_on_partial: bool = False
    glue_workers: int = DEFAULT_WORKERS  # tables committed at once (not an environment setting)
    max_tables_per_source: int = DEFAULT_MAX_TABLES_PER_SOURCE
    export_expiration_days: int = 0
    canary_queries: int = canary.MAX_QUERIES

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        missing = [name for name in ("GLUE_DATABASE", "ATHENA_WORKGROUP") if not env.get(name)]
        if missing:
            raise RuntimeError(f"Environment variables {', '.join(missing)} are not set; the function is deployed without its configuration.")
        cap = int(env.get("MAX_TABLES_PER_SOURCE") or DEFAULT_MAX_TABLES_PER_SOURCE)
        if cap < 1:
            raise RuntimeError("MAX_TABLES_PER_SOURCE must be at least 1")
        return cls(
            glue_database=env["GLUE_DATABASE"],
            workgroup=env["ATHENA_WORKGROUP"],
            plan_bucket=env.get("EXPORT_BUCKET") or None,
            fail_on_partial=(env.get("FAIL_ON_PARTIAL_EXPORT") or "false").strip().lower() == "true",
            max_tables_per_source=cap,
            export_expiration_days=int(env.get("EXPORT_EXPIRATION_DAYS") or 0),
        )


@dataclass(frozen=True)
class TablePlan:
    source: ExportedTable
    latest: str
    location: str
    athena_types: tuple[str, ...]  # of source.columns, in order


def source_cluster(job: Mapping[str, Any], snapshot: Mapping[str, Any] | None = None) -> str:
    """The cluster or DB instance the export came from (job.source_identifier, or the given snapshot's).

    Tables are named after it whatever its kind (job.source_kind says which).
    """
    cluster = (
        job.get("source_cluster_identifier")
        or job.get("source_identifier")
        or job.get("cluster_identifier")
        or (snapshot or {}).get("source_identifier")
        or (snapshot or {}).get("source_cluster_identifier")
    )
    if not isinstance(cluster, str) or not cluster:
        raise InvalidInput("the state names no source (job.source_identifier, job.cluster_identifier or snapshot.source_identifier)")
    return cluster


def run_source(state: Mapping[str, Any]) -> ownership.Source:
    """The source this run exported, as the ownership record names it (from the run's job, snapshot and export)."""
    job, snapshot, export = state.get("job") or {}, state.get("snapshot") or {}, state.get("export") or {}
    account = job.get("account")
    source_arn = export.get("source_arn") or snapshot.get("source_arn") or snapshot.get("snapshot_arn")
    if isinstance(source_arn, str) and source_arn.startswith("arn:"):
        account = naming.split_arn(source_arn).account or account
    if not isinstance(account, str) or not re.fullmatch(r"\d{12}", account):
        raise InvalidInput(f"the state names no 12-digit source account (job.account or the export's source ARN): {str(account)[:40]!r}")
    kind = sources.of_kind(job.get("source_kind") or snapshot.get("source_kind") or sources.CLUSTER.kind).kind
    return ownership.Source(account=account, kind=kind, identifier=source_cluster(job, snapshot))


def _table_problems(table: ExportedTable) -> list[str]:
    """What keeps one table out of the catalog whatever the other tables are."""
    problems = []
    slashed = [f"{what} {part!r}" for what, part in (("database", table.database), ("schema", table.schema), ("table", table.table)) if "/" in part]
    if slashed:
        problems.append(f"its {', '.join(slashed)} holds '/': its folder would not be its own (it could lie inside another table's); rename it")
    clashes = names.find_collisions((column.name, names.column_name(column.name)) for column in table.columns)
    problems += [f"columns {' and '.join(sources)} would all be column {name} in Athena; rename all but one of them" for name, sources in sorted(clashes.items())]
    return problems


def plan_tables(
    cluster: str, location: ExportLocation, tables: list[ExportedTable], account: str | None = None,
    unplaced: Sequence[UnplacedTable] = (),
) -> tuple[list[TablePlan], list[SkippedTable]]:
    """Types and names of every table that can be catalogued, and every one that cannot, with its reason.

    Raises only on a column type with no known Athena type (listing all of them): that is
    this code not knowing the export, not a table to leave out. Tables that would share a
    name or a folder are all left out (so which one keeps a name never depends on
    the order the export lists them), as are tables whose names Glue or S3 paths cannot hold,
    the ``unplaced`` tables (whose metadata does not say which table they are), and every
    table whose folder may hold an unplaced table's files.
    """
    unmappable: list[str] = []
    plans: list[TablePlan] = []
    refused: dict[str, list[str]] = {}
    for table in tables:
        types = []
        for column in table.columns:
            try:
                types.append(athena_type(column.exported_type))
            except UnknownExportedType as exc:
                unmappable.append(f"{table.target}.{column.name}: {exc}")
        problems = _table_problems(table)
        if problems:
            refused.setdefault(table.target, []).extend(problems)
        plans.append(TablePlan(
            source=table,
            latest=names.latest_table_name(cluster, table.database, table.schema, table.table, account),
            location=location.table_uri(table.database, table.schema, table.table),
            athena_types=tuple(types),
        ))
    if unmappable:
        raise UnmappableColumnType(_listing(f"{len(unmappable)} column(s) have an exported type with no exact Athena type", unmappable))
    for what, key in (("would all be named", lambda plan: plan.latest), ("would all be read from the folder", lambda plan: plan.location)):
        for shared, sources_ in names.find_collisions((plan.source.target, key(plan)) for plan in plans).items():
            for target in sources_:
                others = " and ".join(other for other in sources_ if other != target)
                refused.setdefault(target, []).append(
                    f"it and {others} {what} {shared}; none of them is catalogued: rename all but one of them at the source"
                )
    for outer, inner in _nested_folders(plans):
        refused.setdefault(outer.source.target, []).append(
            f"its folder {outer.location} holds the folder of {inner.source.target}: its files would be read as its own; "
            f"neither is catalogued: rename {inner.source.target} at the source")
        refused.setdefault(inner.source.target, []).append(f"its folder lies inside the folder of {outer.source.target}")
    for plan, targets in _holding_unplaced(location, plans, unplaced):
        shown = targets[:UNPLACED_NAMED]
        more = f" and {len(targets) - len(shown)} more" if len(targets) > len(shown) else ""
        refused.setdefault(plan.source.target, []).append(
            f"its folder {plan.location} may hold the files of {' and '.join(shown)}{more} (a name the export's metadata "
            f"cannot place): they would be read as its own; it is not catalogued: rename {shown[0]} at the source")
    for item in unplaced:
        refused.setdefault(item.target, []).append(item.reason)
    kept = [plan for plan in plans if plan.source.target not in refused]
    return kept, [SkippedTable(target, "; ".join(reasons)) for target, reasons in refused.items()]


def _holding_unplaced(
    location: ExportLocation, plans: list[TablePlan], unplaced: Sequence[UnplacedTable]
) -> list[tuple[TablePlan, list[str]]]:
    """Every plan whose folder is, or holds, a folder where an unplaced table's files may lie, with those tables.

    One sorted list of the unplaced tables' possible folders; each plan looks up its own prefix in it.
    """
    folders = sorted((location.root_key + folder, item.target) for item in unplaced for folder in item.folders)
    keys = [folder for folder, _ in folders]
    found = []
    for plan in plans:
        own = location.table_key(plan.source.database, plan.source.schema, plan.source.table)
        targets: dict[str, None] = {}
        for index in range(bisect.bisect_left(keys, own), len(keys)):
            if not keys[index].startswith(own):
                break
            targets[folders[index][1]] = None
        if targets:
            found.append((plan, list(targets)))
    return found


def _nested_folders(plans: list[TablePlan]) -> list[tuple[TablePlan, TablePlan]]:
    """Every (outer, inner) pair of tables whose folder lies inside the other's."""
    ordered = sorted(plans, key=lambda plan: plan.location)
    pairs = []
    for index, outer in enumerate(ordered):
        for inner in ordered[index + 1:]:
            if not inner.location.startswith(outer.location):
                break
            if inner.location != outer.location:  # equal folders are reported as shared above
                pairs.append((outer, inner))
    return pairs


def data_files(s3: Any, location: ExportLocation) -> dict[str, list[tuple[str, int]]]:
    """``{table folder key: [(s3 uri, size), ...]}``: every data file of the export, from one paginated listing.

    A data file sits in ``DATABASE/SCHEMA.TABLE/`` or in a batch folder below it; ``_SUCCESS``
    markers and metadata files are not data.
    """
    found: dict[str, list[tuple[str, int]]] = {}
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=location.root_key):
            for obj in page.get("Contents", []):
                parts = obj["Key"][len(location.root_key):].split("/")
                if len(parts) >= 3 and is_data_file(obj["Key"]):
                    found.setdefault(f"{location.root_key}{parts[0]}/{parts[1]}/", []).append((f"s3://{location.bucket}/{obj['Key']}", int(obj["Size"])))
    except Exception as exc:  # botocore ClientError: keep the AWS error code as the error name
        if hasattr(exc, "response"):
            raise aws_error(exc) from exc
        raise
    return found


def with_data_files(files: Mapping[str, list[tuple[str, int]]], location: ExportLocation,
                    plans: list[TablePlan]) -> tuple[list[TablePlan], list[SkippedTable]]:
    """The plans whose folder holds a data file, and the others as missing tables (never a table over an empty folder)."""
    def key(plan: TablePlan) -> str:
        return location.table_key(plan.source.database, plan.source.schema, plan.source.table)

    kept = [plan for plan in plans if key(plan) in files]
    empty = [SkippedTable(plan.source.target, f"the metadata lists it, but {plan.location} holds no data file (*.parquet)")
             for plan in plans if key(plan) not in files]
    return kept, empty


def _listing(headline: str, problems: list[str]) -> str:
    shown = problems[:PROBLEMS_IN_ERROR]
    more = len(problems) - len(shown)
    return headline + ":\n" + "\n".join(f"- {line}" for line in shown) + (f"\n... and {more} more" if more else "")


def _comment(plan: TablePlan) -> str:
    return f"{plan.source.target}: every retained Aurora export (Apache Iceberg; FOR TIMESTAMP AS OF reads an earlier one)"


@dataclass(frozen=True)
class Owner:
    """Whose the tables of this run are: the stack and the exported source."""

    stack: str
    source: ownership.Source

    def record(self, plan: TablePlan, role: str, export_id: str) -> dict[str, str]:
        return ownership.record(self.stack, self.source, plan.source.target, role, export_id)


def representative_input(plan: TablePlan, export_id: str, owner: Owner, location: str) -> dict[str, Any]:
    """The Glue TableInput a table will get (columns as Glue lists them), to check Glue's limits before any change."""
    columns = []
    for column, kind in zip(plan.source.columns, plan.athena_types):
        entry: dict[str, Any] = {"Name": names.column_name(column.name), "Type": iceberg_schema.hive_type(iceberg_schema.iceberg_type(kind))}
        if column.original_type:
            entry["Comment"] = column.original_type[: glue_limits.COMMENT_MAX]
        columns.append(entry)
    return {
        "Name": plan.latest, "TableType": "EXTERNAL_TABLE", "Description": _comment(plan),
        "Parameters": {**owner.record(plan, ownership.LATEST, export_id), iceberg.TABLE_TYPE: iceberg.ICEBERG,
                       iceberg.METADATA_LOCATION: f"{location}00000-00000000-0000-0000-0000-000000000000.metadata.json"},
        "StorageDescriptor": {"Location": location, "Columns": columns},
    }


def definition_problems(plans: list[TablePlan], export_id: str, owner: Owner, warehouse: str,
                        database: str) -> tuple[list[TablePlan], list[SkippedTable]]:
    """The plans whose definitions Glue accepts, and the others with what Glue would refuse."""
    kept, refused = [], []
    for plan in plans:
        folder = f"{warehouse}{database}/{plan.latest}/00000000-0000-0000-0000-000000000000/metadata/"
        try:
            problems = glue_limits.table_input_problems(representative_input(plan, export_id, owner, folder))
            if not plan.source.columns:
                problems.append("it has no columns")
        except (ValueError, iceberg_schema.UnsupportedColumn) as exc:
            problems = [str(exc)]
        if problems:
            refused.append(SkippedTable(plan.source.target, "Glue would refuse it: " + "; ".join(dict.fromkeys(problems))))
        else:
            kept.append(plan)
    return kept, refused


def existing_tables(glue: Any, database: str, expression: str) -> dict[str, dict[str, Any]]:
    """``{name: Parameters}`` of the tables of ``database`` whose names match ``expression`` (GetTables, paged)."""
    found: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"DatabaseName": database, "Expression": expression, "MaxResults": 100}
    try:
        while True:
            page = glue.get_tables(**kwargs)
            for table in page.get("TableList", []):
                found[table["Name"]] = dict(table.get("Parameters") or {})
            if not page.get("NextToken"):
                return found
            kwargs["NextToken"] = page["NextToken"]
    except Exception as exc:
        if hasattr(exc, "response"):
            raise aws_error(exc) from exc
        raise


def ownership_problems(
    glue: Any, plans: list[TablePlan], database: str, cluster: str, export_id: str, owner: Owner, account: str | None = None
) -> tuple[list[TablePlan], list[SkippedTable], set[str]]:
    """The plans whose names are free or already this source table's, the others with whose the name is,
    and the names of the source's tables that exist (its latest tables, whichever its exports hold).

    One listing, narrowed by name: the source's latest tables.
    """
    existing = existing_tables(glue, database, f"{names.cluster_name_prefix(cluster, account)}.*")
    kept, refused = [], []
    for plan in plans:
        if plan.latest in existing and not ownership.same_owner(existing[plan.latest], owner.record(plan, ownership.LATEST, export_id)):
            refused.append(SkippedTable(plan.source.target, f"the latest table name {plan.latest} is taken by {ownership.owner_text(existing[plan.latest])}; "
                                                            f"that table is left as it is: rename {plan.source.target} at the source"))
        else:
            kept.append(plan)
    own = {name for name, parameters in existing.items()
           if ownership.is_stack_table(parameters, owner.stack, ownership.LATEST)
           and all(parameters.get(key) == value for key, value in (
               (ownership.SOURCE_ACCOUNT, owner.source.account), (ownership.SOURCE_KIND, owner.source.kind),
               (ownership.SOURCE_IDENTIFIER, owner.source.identifier)))}
    return kept, refused, own


def cap_problems(plans: list[TablePlan], existing: set[str], cap: int) -> tuple[list[TablePlan], list[SkippedTable]]:
    """The source keeps at most ``cap`` tables: its existing ones always, new ones in name order while room is left."""
    room = max(cap - len(existing), 0)
    new = sorted((plan for plan in plans if plan.latest not in existing), key=lambda plan: plan.latest)
    admitted = {plan.latest for plan in new[:room]}
    kept = [plan for plan in plans if plan.latest in existing or plan.latest in admitted]
    refused = [SkippedTable(plan.source.target, f"the source already has {len(existing)} tables and at most {cap} are kept "
                            f"(parameter MaxTablesPerSource): table {plan.latest} is not created")
               for plan in new[room:]]
    return kept, refused


def _missing_entry(skipped: SkippedTable) -> dict[str, str]:
    return {"table": skipped.target, "reason": skipped.reason}


def _put_json(bucket: str, key: str, document: Any) -> None:
    _put(bucket, key, json.dumps(document, separators=(",", ":")).encode(), "application/json")


def _put(bucket: str, key: str, body: bytes, content_type: str) -> None:
    try:
        clients.client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    except Exception as exc:
        if hasattr(exc, "response"):
            raise aws_error(exc) from exc
        raise


def _get_json(bucket: str, key: str) -> Any:
    try:
        return json.loads(clients.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    except Exception as exc:
        if hasattr(exc, "response"):
            raise aws_error(exc) from exc
        raise


def _ms(text: Any) -> int | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return iceberg.from_iso(text)
    except ValueError:
        return None


def export_times(export: Mapping[str, Any], account: str | None) -> tuple[int, int]:
    """``(source snapshot time, task start time)`` in ms: from the run's state, else from DescribeExportTasks."""
    snapshot_ms, started_ms = _ms(export.get("snapshot_time")), _ms(export.get("task_start_time"))
    if (snapshot_ms is None or started_ms is None) and account is not None:
        raise ExportMetadataInvalid(f"the run's state has no SnapshotTime of export {export.get('export_task_identifier')} of account {account} "
                                    "(a run started before an upgrade): start the export again")
    if snapshot_ms is None or started_ms is None:
        task = exports.describe(str(export.get("export_task_identifier"))) or {}
        snapshot_ms = snapshot_ms or _ms(exports._utc_text(task.get("SnapshotTime")))
        started_ms = started_ms or _ms(exports._utc_text(task.get("TaskStartTime")))
    if snapshot_ms is None:
        raise ExportMetadataInvalid(f"export {export.get('export_task_identifier')} has no SnapshotTime (DescribeExportTasks): "
                                    "its snapshots' times in the tables would be guessed")
    return snapshot_ms, started_ms or snapshot_ms


def plan_base(account: str, export_id: str) -> str:
    """``athena-plans/<account>/<export id>/``: the run's plan, report, results."""
    return f"{PLAN_PREFIX}{naming.account_folder(account)}{names.sanitize(export_id)}/"


def plan_step(state: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """Read the export's metadata, write the plan and report to S3, record the export; return their keys and counts."""
    job, export = state.get("job") or {}, state.get("export") or {}
    if str(export.get("status") or "").upper() != "COMPLETE":
        raise ExportMetadataInvalid(f"export {export.get('export_task_identifier')} is {export.get('status')}, not COMPLETE")
    started = clock.now()
    cluster = source_cluster(job, state.get("snapshot"))
    # A source account's tables carry the account in their names; the lake's own do not.
    name_account = job.get("source_account")
    location = ExportLocation.of(export.get("s3_bucket") or "", export.get("s3_prefix"), export.get("export_task_identifier") or "")
    plan_bucket = settings.plan_bucket or location.bucket
    warehouse = f"s3://{plan_bucket}/{naming.ICEBERG_FOLDER}"
    owner = Owner(ownership.stack_identity(settings.glue_database, plan_bucket), run_source(state))
    source_time_ms, export_started_ms = export_times(export, name_account)
    s3 = clients.client("s3")
    metadata = read_export_metadata(s3, location)
    missing = metadata.skipped + skipped_from_warning(run_report.full_warning_message(export, job.get("execution_arn")))
    if not metadata.tables and not metadata.unplaced and not missing:
        missing.append(SkippedTable(EXPORT_LEVEL, "the export's metadata lists no tables"))
    # Every check before the first catalog change: names, folders, data, Glue's limits, owners, the cap.
    plans, refused = plan_tables(cluster, location, metadata.tables, name_account, metadata.unplaced)
    files = data_files(s3, location)
    plans, empty = with_data_files(files, location, plans)
    plans, invalid = definition_problems(plans, location.export_id, owner, warehouse, settings.glue_database)
    plans, taken, own = ownership_problems(clients.client("glue"), plans, settings.glue_database, cluster, location.export_id, owner, name_account)
    plans, capped = cap_problems(plans, own, settings.max_tables_per_source)
    missing += refused + empty + invalid + taken + capped

    base = plan_base(owner.source.account, location.export_id)
    plan_key, report_key = base + "plan.json", base + "report.json"
    tables_missing = [entry for entry in missing if entry.target != EXPORT_LEVEL]
    partial = bool(missing)
    _put_json(plan_bucket, report_key, _report(location, cluster, settings, metadata.files, plans, missing, partial))
    _put_json(plan_bucket, plan_key, {
        "version": PLAN_VERSION,
        "export_task_identifier": location.export_id,
        "glue_database": settings.glue_database,
        "warehouse": warehouse,
        "source_time_ms": source_time_ms,
        "export_started_ms": export_started_ms,
        "owner": {"stack": owner.stack, "account": owner.source.account, "kind": owner.source.kind, "identifier": owner.source.identifier},
        "tables": [
            {"source": plan.source.target, "latest": plan.latest,
             "columns": [[c.name, kind, c.original_type] for c, kind in zip(plan.source.columns, plan.athena_types)],
             "files": files[location.table_key(plan.source.database, plan.source.schema, plan.source.table)]}
            for plan in plans
        ],
    })
    # Before the first commit: a run that fails half-way still has its snapshots expire with their files.
    retention.record_export(s3, plan_bucket, location.export_id, location.root_uri, settings.glue_database, owner.source.account,
                            export_started_ms=export_started_ms, tables=[plan.latest for plan in plans],
                            name_prefix=names.cluster_name_prefix(cluster, name_account))
    report_uri = f"s3://{plan_bucket}/{report_key}"
    logger.info("Catalog plan written", extra={"tables": len(plans), "missing": len(missing), "plan": f"s3://{plan_bucket}/{plan_key}"})
    if partial and settings.fail_on_partial:
        raise PartialExport(_listing(
            f"the export is partial: {len(missing)} table(s) or database(s) missing (full list: {report_uri})",
            [f"{entry.target}: {entry.reason}" for entry in missing],
        ))
    shown = tables_missing[:MISSING_IN_RESULT]
    return {
        "done": False,
        "phase": "commit",
        "database": settings.glue_database,
        "workgroup": settings.workgroup,
        "export_root": location.root_uri,
        "plan_bucket": plan_bucket,
        "plan_key": plan_key,
        "report_key": report_key,
        "report_uri": report_uri,
        "cursor": 0,
        "tables_planned": len(plans),
        "tables_created": 0,
        "tables_skipped": len(tables_missing),
        "sample_table": plans[0].latest if plans else None,
        "partial": partial,
        "missing_tables": [{"table": limits.cut_text(e.target, REASON_CHARS), "reason": limits.cut_text(e.reason, REASON_CHARS)} for e in shown],
        "missing_tables_more": len(tables_missing) - len(shown),
        "invocations": 1,
        "started_at": started,
        "athena_seconds": round(clock.now() - started, 3),
    }


def _report(location: ExportLocation, cluster: str, settings: Settings, metadata_files: list[str], plans: list[TablePlan],
            missing: list[SkippedTable], partial: bool, outcomes: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "version": PLAN_VERSION,
        "export_task_identifier": location.export_id,
        "export_root": location.root_uri,
        "cluster": cluster,
        "glue_database": settings.glue_database,
        "metadata_files": metadata_files,
        "partial": partial,
        "tables": [
            {"source": plan.source.target, "table": plan.latest, "location": plan.location, "columns": len(plan.source.columns),
             **({"status": outcomes[plan.source.target].get("status")} if outcomes and plan.source.target in outcomes else {})}
            for plan in plans
        ],
        "missing": [_missing_entry(entry) for entry in missing],
    }


# -- running the plan ------------------------------------------------------------------------------


def _table_export(plan: Mapping[str, Any], entry: Mapping[str, Any]) -> iceberg.TableExport:
    return iceberg.TableExport(
        export_id=plan["export_task_identifier"],
        source_time_ms=int(plan["source_time_ms"]),
        export_started_ms=int(plan["export_started_ms"]),
        columns=tuple(iceberg.ExportedColumn(str(name), str(kind), str(original)) for name, kind, original in entry["columns"]),
        files=tuple(iceberg.ExportFile(str(uri), int(size)) for uri, size in entry["files"]),
    )


def _owner_record(plan: Mapping[str, Any], source_table: str) -> dict[str, str]:
    owner = plan["owner"]
    source = ownership.Source(owner["account"], owner["kind"], owner["identifier"])
    return ownership.record(owner["stack"], source, source_table, ownership.LATEST, plan["export_task_identifier"])


def _expire_before(settings: Settings) -> int | None:
    if settings.export_expiration_days <= 0:
        return None
    return int(clock.now() * 1000) - (settings.export_expiration_days - 1) * retention.DAY_MS


def commit_step(previous: dict[str, Any], plan: Mapping[str, Any], settings: Settings, deadline: float) -> None:
    """Commit tables from the cursor until all are done or the deadline is near; their outcomes go to ``results/``."""
    tables = plan["tables"]
    committer = iceberg.Committer(clients.client("glue"), plan["glue_database"], plan["warehouse"])
    expire_before = _expire_before(settings)

    def commit(entry: Mapping[str, Any]) -> dict[str, Any]:
        target = iceberg.Target(plan["glue_database"], entry["latest"], plan["warehouse"], _owner_record(plan, entry["source"]),
                                f"{entry['source']}: every retained Aurora export (Apache Iceberg)")
        try:
            outcome = committer.commit_export(target, _table_export(plan, entry), expire_before_ms=expire_before).as_dict()
        except iceberg.TableRefused as exc:
            outcome = {"table": entry["latest"], "status": "left_out", "reason": str(exc)[:2000]}
        return {"source": entry["source"], **outcome}

    start = int(previous.get("cursor") or 0)
    ran = run_parallel(tables, start, commit, deadline=deadline, workers=settings.glue_workers)
    if ran.cursor > start:
        outcomes = [ran.results[index] for index in range(start, ran.cursor)]
        _put_json(previous["plan_bucket"], f"{_base_of(previous)}results/{start:07d}.json", {"start": start, "end": ran.cursor, "outcomes": outcomes})
    logger.info("Tables committed", extra={"cursor": ran.cursor, "tables": len(tables), "max_in_flight": ran.max_in_flight})
    previous["cursor"] = ran.cursor
    if ran.done:
        previous["phase"] = "canary"


def _base_of(previous: Mapping[str, Any]) -> str:
    return str(previous["plan_key"]).removesuffix("plan.json")


def _outcomes(previous: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every committed table's outcome, in plan order (one object per invocation that committed tables)."""
    s3 = clients.client("s3")
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=previous["plan_bucket"], Prefix=f"{_base_of(previous)}results/"):
        keys += [item["Key"] for item in page.get("Contents", [])]
    outcomes: list[dict[str, Any]] = []
    for key in sorted(keys):
        outcomes += _get_json(previous["plan_bucket"], key)["outcomes"]
    return outcomes


def canary_step(previous: dict[str, Any], plan: Mapping[str, Any], settings: Settings, deadline: float) -> None:
    state = previous.setdefault("canary", {})
    if "queries" not in state:
        candidates = [{**o["canary"], "table": o["table"]} for o in _outcomes(previous) if o.get("canary")]
        chosen, unchecked = canary.choose(candidates, settings.canary_queries)
        state.update(queries=chosen, cursor=0, unchecked=unchecked[:MISSING_IN_RESULT], unchecked_count=len(unchecked))
    if state["cursor"] < len(state["queries"]):
        ran = canary.run(clients.client("athena"), plan["glue_database"], settings.workgroup, state["queries"], int(state["cursor"]), deadline)
        state["cursor"] = ran["cursor"]
        state.setdefault("checked", []).extend(ran["checked"])
        if not ran["done"]:
            return
    previous["phase"] = "finish"


def finish_step(previous: dict[str, Any], plan: Mapping[str, Any], settings: Settings, state: Mapping[str, Any]) -> None:
    """The drift log, the final report and the run's summary."""
    owner = plan["owner"]
    source = ownership.Source(owner["account"], owner["kind"], owner["identifier"])
    outcomes = _outcomes(previous)
    report = _get_json(previous["plan_bucket"], previous["report_key"])
    export_id = plan["export_task_identifier"]
    rows = [drift.row(o, export_id, source, o["source"]) for o in outcomes]
    rows += [drift.row({"table": None, "status": "left_out", "reason": m["reason"]}, export_id, source, m["table"])
             for m in report.get("missing", []) if m.get("table") != EXPORT_LEVEL]
    drift_key = drift.key(source.account, export_id)
    _put(previous["plan_bucket"], drift_key, drift.json_lines(rows), "application/x-ndjson")
    _ensure_drift_table(plan["glue_database"], previous["plan_bucket"], owner["stack"])
    left_out = [o for o in outcomes if o.get("status") == "left_out"]
    by_source = {o["source"]: o for o in outcomes}
    report["missing"] += [{"table": o["source"], "reason": o.get("reason") or "left out"} for o in left_out]
    report["partial"] = bool(report["missing"])
    for entry in report.get("tables", []):
        if entry.get("source") in by_source:
            entry["status"] = by_source[entry["source"]].get("status")
    _put_json(previous["plan_bucket"], previous["report_key"], report)
    missing = [m for m in report["missing"] if m.get("table") != EXPORT_LEVEL]
    shown = missing[:MISSING_IN_RESULT]
    committed = [o for o in outcomes if o.get("status") != "left_out"]
    previous.update(
        tables_created=len(committed),
        tables_skipped=len(missing),
        partial=report["partial"],
        missing_tables=[{"table": str(m["table"])[:REASON_CHARS], "reason": str(m["reason"])[:REASON_CHARS]} for m in shown],
        missing_tables_more=len(missing) - len(shown),
        sample_table=committed[0]["table"] if committed else None,
        drift=drift.summary([r for r in rows], f"s3://{previous['plan_bucket']}/{drift_key}"),
    )
    canary_state = previous.get("canary") or {}
    previous["canary"] = {"checked": canary_state.get("checked", []), "unchecked": canary_state.get("unchecked", []),
                          "unchecked_count": canary_state.get("unchecked_count", 0)}
    previous["phase"] = "retention"
    if left_out and settings.fail_on_partial:
        raise PartialExport(_listing(
            f"the export is partial: {len(left_out)} table(s) could not take this export (full list: {previous.get('report_uri')})",
            [f"{o['source']}: {o.get('reason')}" for o in left_out],
        ))


def _ensure_drift_table(database: str, bucket: str, stack: str) -> None:
    """The drift log's one Glue table: created once; a table of that name that is not this stack's is left as it is."""
    glue = clients.client("glue")
    table = drift.table_input(bucket, stack)
    try:
        found = glue.get_table(DatabaseName=database, Name=drift.TABLE_NAME)["Table"]
    except Exception as exc:
        if error_code(exc) != "EntityNotFoundException":
            if hasattr(exc, "response"):
                raise aws_error(exc) from exc
            raise
        found = None
    if found is not None:
        if not drift.is_ours(found.get("Parameters"), stack):
            logger.warning("A table named like the drift log is not this stack's; left as it is", extra={"table": drift.TABLE_NAME})
        return
    try:
        glue.create_table(DatabaseName=database, TableInput=table)
    except Exception as exc:
        if error_code(exc) != "AlreadyExistsException":
            if hasattr(exc, "response"):
                raise aws_error(exc) from exc
            raise


def retention_step(previous: dict[str, Any], plan: Mapping[str, Any], settings: Settings, state: Mapping[str, Any], deadline: float) -> None:
    owner = plan["owner"]
    committer = iceberg.Committer(clients.client("glue"), plan["glue_database"], plan["warehouse"])
    pruned = retention.prune_expired_exports(
        clients.client("s3"), clients.client("glue"), previous["plan_bucket"], plan["glue_database"],
        current_export_id=plan["export_task_identifier"], now=clock.now(), expiration_days=settings.export_expiration_days,
        current_account=owner["account"], deadline=deadline, workers=settings.glue_workers,
        remove_snapshots=lambda name, export_ids, stack: committer.remove_exports(plan["glue_database"], name, export_ids, stack),
    )
    if pruned.exports_gone:
        logger.info("Snapshots of expired exports removed", extra=pruned.summary())
    previous["retention"] = pruned.summary()
    previous["phase"] = "done"
    previous["done"] = True


def run_step(state: Mapping[str, Any], settings: Settings, deadline: float) -> dict[str, Any]:
    """Run the plan from where the previous invocation stopped until done or the deadline is near."""
    previous = dict(state["athena"])
    export_id = (state.get("export") or {}).get("export_task_identifier")
    plan = _get_json(previous["plan_bucket"], previous["plan_key"])
    if not isinstance(plan, dict) or plan.get("export_task_identifier") != export_id:
        raise ExportMetadataInvalid(f"s3://{previous['plan_bucket']}/{previous['plan_key']} is not the plan of export {export_id}")
    if plan.get("version") != PLAN_VERSION:
        # Written by an earlier release before a deployment: every commit is idempotent, so planning again is safe.
        logger.warning("Catalog plan of an earlier release; planning again", extra={"plan_version": plan.get("version")})
        replanned = plan_step(state, settings)
        replanned["invocations"] = int(previous.get("invocations") or 0) + 1
        return replanned
    if previous.get("phase") not in PHASES:
        previous["phase"] = "commit"
    started_in = previous["phase"]
    if previous["phase"] == "commit":
        commit_step(previous, plan, settings, deadline)
    if previous["phase"] == "canary" and clock.now() < deadline:
        canary_step(previous, plan, settings, deadline)
    if previous["phase"] == "finish" and clock.now() < deadline:
        finish_step(previous, plan, settings, state)
    # Clean-up always gets its turn: in this invocation when enough time is left, else in a fresh one.
    if previous["phase"] == "retention" and (started_in == "retention" or deadline - clock.now() >= RETENTION_MIN_SECONDS):
        retention_step(previous, plan, settings, state, deadline)
    previous["invocations"] = int(previous.get("invocations") or 0) + 1
    previous["athena_seconds"] = round(clock.now() - float(previous.get("started_at") or clock.now()), 3)
    return previous


def create_athena_tables(state: Mapping[str, Any], settings: Settings, deadline: float) -> dict[str, Any]:
    """The step: plan on the first call and start running the plan; later calls run it until done.

    Running right after planning lets a typical export finish in one invocation, which saves the
    state machine a loop (two billed transitions) on every run.
    """
    previous = state.get("athena")
    if not isinstance(previous, dict) or not previous.get("plan_key"):
        planned = plan_step(state, settings)
        if clock.now() >= deadline:
            return planned
        ran = run_step({**state, "athena": planned}, settings, deadline)
        ran["invocations"] = planned["invocations"]
        return ran
    if previous.get("done"):
        return dict(previous)
    return run_step(state, settings, deadline)


__all__ = ["Settings", "create_athena_tables"]
