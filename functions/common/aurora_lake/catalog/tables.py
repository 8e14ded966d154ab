"""CreateAthenaTables: one Athena table per exported table, at any table count.

The step runs in a loop of the state machine until ``$.athena.done`` is true:

1. The first invocation (no ``$.athena`` yet) reads every metadata file of the
   export, maps every column type, derives every name, and writes two objects
   to the export bucket: the *plan* (every DDL statement and every Glue table
   input, in order) at ``athena-plans/ACCOUNT/EXPORT_ID/plan.json`` and the *report*
   (every table created and every table missing, with reasons) at
   ``athena-plans/ACCOUNT/EXPORT_ID/report.json`` (ACCOUNT: where the export ran). It returns their keys, counts and a
   cursor; nothing else, so the state stays a few KiB whatever the table count.
   Every check happens here, before any table is touched: a type that cannot
   be mapped fails the step; a table that cannot be catalogued is left out and
   reported with its reason (the run is then PARTIAL): tables (or columns)
   that would share an Athena name or a folder, names the metadata cannot place
   (a dot or an empty name makes a target several tables may stand for:
   ``export_metadata.UnplacedTable``) and tables whose folder may hold their files,
   names holding ``/``, names or
   definitions Glue or Athena would refuse (``catalog.glue_limits``), and
   names already taken by a table of another source or not created by the
   stack (``catalog.ownership``). Its latest table, if any, stays as it was.
2. Every later invocation runs the plan from the cursor until its time budget
   is nearly spent, and returns the new cursor, or ``done: true``.

Two phases, one Athena DDL query per table (see ``names`` for the names):

* phase 1, Athena DDL: ``CREATE EXTERNAL TABLE IF NOT EXISTS`` of the
  *versioned* table of each exported table (its name includes the export
  identifier), with bounded concurrency. This statement is the table's
  recorded DDL (in the plan).
* phase 2, Glue Data Catalog API, only once every versioned table exists: the
  *latest* table of each exported table is re-pointed at the new export with
  UpdateTable (CreateTable the first time), from the same columns, location
  and properties as the versioned DDL. One write replaces location and
  columns atomically, so saved queries never meet a missing table and column
  changes between exports are carried over; and it spends none of Athena's 20
  concurrent DDL queries, which a DROP + CREATE pair per table would (three
  DDL queries per table: 5,000 tables x 3 x 1.5 s / 20 = 1,125 s of DDL,
  against 375 s now). Because the latest tables move only after every
  versioned DDL succeeded, a failed DDL statement never leaves some latest
  tables moved and others not. A Glue error in phase 2 (anything but
  throttling, which is retried) fails the step part-way; every upsert is
  idempotent, so a redrive or re-run finishes the move.

The cursor counts the versioned units first, then the latest tables.

A table that this export skipped keeps its latest table pointing at the export
that last contained it; the report and the notification list it as missing. So
does a table the metadata lists whose folder holds no data file: every planned
LOCATION is checked against one paginated listing of the export, and no table
is ever created over an empty folder.
With ``FAIL_ON_PARTIAL_EXPORT=true`` a partial export fails the step with
``PartialExport`` before any statement runs (the report is written first).
"""

from __future__ import annotations

import bisect
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aurora_lake import clients, clock, limits, naming, run_report, sources
from aurora_lake.catalog import ddl, glue_limits, names, ownership
from aurora_lake.catalog.runner import DEFAULT_GLUE_WORKERS, Unit, run_units, upsert_glue_tables
from aurora_lake.catalog.types import UnknownExportedType, athena_type
from aurora_lake.errors import (
    ExportMetadataInvalid,
    InvalidInput,
    PartialExport,
    UnmappableColumnType,
    aws_error,
)
from aurora_lake.export_metadata import (
    EXPORT_LEVEL,
    ExportedTable,
    ExportLocation,
    SkippedTable,
    UnplacedTable,
    read_export_metadata,
    skipped_from_warning,
    table_keys_with_data,
)
from aurora_lake.observability import logger

PLAN_PREFIX = naming.ATHENA_PLANS_FOLDER
PLAN_VERSION = 2
DEFAULT_CONCURRENCY = 20
# Bounds on what the state carries; the report in S3 has everything.
MISSING_IN_RESULT = 10
REASON_CHARS = 300
PROBLEMS_IN_ERROR = 20
UNPLACED_NAMED = 3  # unplaced tables a reason names
PHASE_VERSIONED = 0


@dataclass(frozen=True)
class Settings:
    glue_database: str
    workgroup: str
    plan_bucket: str | None = None  # default: the export's own bucket
    concurrency: int = DEFAULT_CONCURRENCY
    fail_on_partial: bool = False
    glue_workers: int = DEFAULT_GLUE_WORKERS  # Glue tables written at once (not an environment setting)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        missing = [name for name in ("GLUE_DATABASE", "ATHENA_WORKGROUP") if not env.get(name)]
        if missing:
            raise RuntimeError(f"Environment variables {', '.join(missing)} are not set; the function is deployed without its configuration.")
        concurrency = int(env.get("ATHENA_DDL_CONCURRENCY") or DEFAULT_CONCURRENCY)
        if concurrency < 1:
            raise RuntimeError("ATHENA_DDL_CONCURRENCY must be at least 1")
        return cls(
            glue_database=env["GLUE_DATABASE"],
            workgroup=env["ATHENA_WORKGROUP"],
            plan_bucket=env.get("EXPORT_BUCKET") or None,
            concurrency=concurrency,
            fail_on_partial=(env.get("FAIL_ON_PARTIAL_EXPORT") or "false").strip().lower() == "true",
        )


@dataclass(frozen=True)
class TablePlan:
    source: ExportedTable
    latest: str
    versioned: str
    location: str
    columns: tuple[ddl.Column, ...]


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
    this code not knowing the export, not a table to leave out. Tables that would share an
    Athena name or a folder are all left out (so which one keeps a name never depends on
    the order the export lists them), as are tables whose names Glue or S3 paths cannot hold,
    the ``unplaced`` tables (whose metadata does not say which table they are), and every
    table whose folder may hold an unplaced table's files.
    """
    unmappable: list[str] = []
    plans: list[TablePlan] = []
    refused: dict[str, list[str]] = {}
    for table in tables:
        columns = []
        for column in table.columns:
            try:
                columns.append(ddl.Column(names.column_name(column.name), athena_type(column.exported_type), column.original_type))
            except UnknownExportedType as exc:
                unmappable.append(f"{table.target}.{column.name}: {exc}")
        problems = _table_problems(table)
        if problems:
            refused.setdefault(table.target, []).extend(problems)
        plans.append(
            TablePlan(
                source=table,
                latest=names.latest_table_name(cluster, table.database, table.schema, table.table, account),
                versioned=names.versioned_table_name(cluster, table.database, table.schema, table.table, location.export_id, account),
                location=location.table_uri(table.database, table.schema, table.table),
                columns=tuple(columns),
            )
        )
    if unmappable:
        raise UnmappableColumnType(_listing(f"{len(unmappable)} column(s) have an exported type with no exact Athena type", unmappable))
    for what, key in (("would all be named", lambda plan: plan.latest), ("would all be read from the folder", lambda plan: plan.location)):
        for shared, sources in names.find_collisions((plan.source.target, key(plan)) for plan in plans).items():
            for target in sources:
                others = " and ".join(other for other in sources if other != target)
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
    """Every (outer, inner) pair of tables whose folder lies inside the other's (a LOCATION reads everything below it)."""
    ordered = sorted(plans, key=lambda plan: plan.location)
    pairs = []
    for index, outer in enumerate(ordered):
        for inner in ordered[index + 1:]:
            if not inner.location.startswith(outer.location):
                break
            if inner.location != outer.location:  # equal folders are reported as shared above
                pairs.append((outer, inner))
    return pairs


def with_data_files(s3: Any, location: ExportLocation, plans: list[TablePlan]) -> tuple[list[TablePlan], list[SkippedTable]]:
    """The plans whose LOCATION holds a data file, and the others as missing tables.

    A table over an empty folder would be created and return no rows, silently: the
    metadata can list a table whose files are elsewhere (a renamed path) or absent.
    """
    with_data = table_keys_with_data(s3, location)
    kept = [plan for plan in plans if location.table_key(plan.source.database, plan.source.schema, plan.source.table) in with_data]
    empty = [
        SkippedTable(plan.source.target, f"the metadata lists it, but {plan.location} holds no data file (*.parquet)")
        for plan in plans
        if location.table_key(plan.source.database, plan.source.schema, plan.source.table) not in with_data
    ]
    return kept, empty


def _listing(headline: str, problems: list[str]) -> str:
    shown = problems[:PROBLEMS_IN_ERROR]
    more = len(problems) - len(shown)
    return headline + ":\n" + "\n".join(f"- {line}" for line in shown) + (f"\n... and {more} more" if more else "")


def _comment(plan: TablePlan, export_id: str) -> str:
    return f"{plan.source.target} from Aurora export {export_id}"


@dataclass(frozen=True)
class Owner:
    """Whose the tables of this run are: the stack and the exported source."""

    stack: str
    source: ownership.Source

    def record(self, plan: TablePlan, role: str, export_id: str) -> dict[str, str]:
        return ownership.record(self.stack, self.source, plan.source.target, role, export_id)


def versioned_statement(plan: TablePlan, database: str, export_id: str, owner: Owner) -> str:
    """The versioned table's CREATE EXTERNAL TABLE IF NOT EXISTS, with its ownership record."""
    return ddl.create_table(database, plan.versioned, plan.columns, plan.location,
                            comment=_comment(plan, export_id), properties=owner.record(plan, ownership.VERSIONED, export_id))


def latest_table_input(plan: TablePlan, export_id: str, owner: Owner) -> dict[str, Any]:
    """The Glue TableInput of a latest table: the versioned table's definition under the stable name."""
    return ddl.glue_table_input(plan.latest, plan.columns, plan.location, comment=_comment(plan, export_id),
                                properties={**owner.record(plan, ownership.LATEST, export_id),
                                            "aurora_lake.versioned_table": plan.versioned})


def build_units(plans: list[TablePlan], database: str, export_id: str, owner: Owner) -> list[Unit]:
    """One Athena DDL statement per table: the versioned table's CREATE EXTERNAL TABLE IF NOT EXISTS."""
    return [Unit((versioned_statement(plan, database, export_id, owner),), PHASE_VERSIONED) for plan in plans]


def latest_table_inputs(plans: list[TablePlan], export_id: str, owner: Owner) -> list[dict[str, Any]]:
    return [latest_table_input(plan, export_id, owner) for plan in plans]


def definition_problems(plans: list[TablePlan], database: str, export_id: str, owner: Owner) -> tuple[list[TablePlan], list[SkippedTable]]:
    """The plans whose definitions Glue and Athena accept, and the others with what Glue or Athena would refuse."""
    kept, refused = [], []
    for plan in plans:
        try:
            problems = glue_limits.table_input_problems(latest_table_input(plan, export_id, owner))
            problems += glue_limits.table_input_problems(
                ddl.glue_table_input(plan.versioned, plan.columns, plan.location, properties=owner.record(plan, ownership.VERSIONED, export_id))
            )
            problems += glue_limits.statement_problems([versioned_statement(plan, database, export_id, owner)])
        except ValueError as exc:  # e.g. a table with no columns
            problems = [str(exc)]
        if problems:
            refused.append(SkippedTable(plan.source.target, "Glue or Athena would refuse it: " + "; ".join(dict.fromkeys(problems))))
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
    and the latest names that exist (with this table's record).

    Two listings, narrowed by name: the cluster's latest tables, and this export's versioned ones.
    """
    prefix = names.cluster_name_prefix(cluster, account)
    existing = existing_tables(glue, database, f"{prefix}.*")
    existing.update(existing_tables(glue, database, f"{names.VERSIONED_MARK}{prefix}.*{names.SEPARATOR}{names.sanitize(export_id)}"))
    kept, refused = [], []
    for plan in plans:
        problems = []
        for name, role in ((plan.latest, ownership.LATEST), (plan.versioned, ownership.VERSIONED)):
            if name in existing and not ownership.same_owner(existing[name], owner.record(plan, role, export_id)):
                problems.append(f"the {role} table name {name} is taken by {ownership.owner_text(existing[name])}; "
                                f"that table is left as it is: rename {plan.source.target} at the source")
        if problems:
            refused.append(SkippedTable(plan.source.target, "; ".join(problems)))
        else:
            kept.append(plan)
    return kept, refused, {plan.latest for plan in kept if plan.latest in existing}


def _missing_entry(skipped: SkippedTable) -> dict[str, str]:
    return {"table": skipped.target, "reason": skipped.reason}


def _put_json(bucket: str, key: str, document: Any) -> None:
    try:
        clients.client("s3").put_object(
            Bucket=bucket, Key=key, Body=json.dumps(document, separators=(",", ":")).encode(), ContentType="application/json"
        )
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


def plan_step(state: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """Read the export's metadata, write the plan and report to S3, return their keys and counts."""
    job, export = state.get("job") or {}, state.get("export") or {}
    if str(export.get("status") or "").upper() != "COMPLETE":
        raise ExportMetadataInvalid(f"export {export.get('export_task_identifier')} is {export.get('status')}, not COMPLETE")
    started = clock.now()
    cluster = source_cluster(job, state.get("snapshot"))
    # A source account's tables carry the account in their names; the lake's own do not.
    name_account = job.get("source_account")
    location = ExportLocation.of(export.get("s3_bucket") or "", export.get("s3_prefix"), export.get("export_task_identifier") or "")
    plan_bucket = settings.plan_bucket or location.bucket
    owner = Owner(ownership.stack_identity(settings.glue_database, plan_bucket), run_source(state))
    metadata = read_export_metadata(clients.client("s3"), location)
    missing = metadata.skipped + skipped_from_warning(run_report.full_warning_message(export, job.get("execution_arn")))
    if not metadata.tables and not metadata.unplaced and not missing:
        missing.append(SkippedTable(EXPORT_LEVEL, "the export's metadata lists no tables"))
    # Every check before the first catalog change: names, folders, data, Glue's limits, owners.
    plans, refused = plan_tables(cluster, location, metadata.tables, name_account, metadata.unplaced)
    plans, empty = with_data_files(clients.client("s3"), location, plans)
    plans, invalid = definition_problems(plans, settings.glue_database, location.export_id, owner)
    plans, taken, existing = ownership_problems(
        clients.client("glue"), plans, settings.glue_database, cluster, location.export_id, owner, name_account
    )
    missing += refused + empty + invalid + taken
    units = build_units(plans, settings.glue_database, location.export_id, owner)
    latest = latest_table_inputs(plans, location.export_id, owner)

    # Export task identifiers are unique per account only: the account's folder keeps plans apart.
    base = f"{PLAN_PREFIX}{naming.account_folder(owner.source.account)}{names.sanitize(location.export_id)}/"
    plan_key, report_key = base + "plan.json", base + "report.json"
    tables_missing = [entry for entry in missing if entry.target != EXPORT_LEVEL]
    partial = bool(missing)
    report = {
        "version": PLAN_VERSION,
        "export_task_identifier": location.export_id,
        "export_root": location.root_uri,
        "cluster": cluster,
        "glue_database": settings.glue_database,
        "metadata_files": metadata.files,
        "partial": partial,
        "tables": [
            {"source": plan.source.target, "latest": plan.latest, "versioned": plan.versioned,
             "location": plan.location, "columns": len(plan.columns)}
            for plan in plans
        ],
        "missing": [_missing_entry(entry) for entry in missing],
    }
    _put_json(plan_bucket, report_key, report)
    _put_json(plan_bucket, plan_key, {
        "version": PLAN_VERSION,
        "export_task_identifier": location.export_id,
        "glue_database": settings.glue_database,
        "units": [{"phase": unit.phase, "statements": list(unit.statements)} for unit in units],
        "latest": latest,
        "latest_existing": sorted(existing),
    })
    report_uri = f"s3://{plan_bucket}/{report_key}"
    logger.info("Athena plan written", extra={"tables": len(plans), "statements": sum(len(u.statements) for u in units),
                                              "latest_tables": len(latest),
                                              "missing": len(missing), "plan": f"s3://{plan_bucket}/{plan_key}"})
    if partial and settings.fail_on_partial:
        raise PartialExport(_listing(
            f"the export is partial: {len(missing)} table(s) or database(s) missing (full list: {report_uri})",
            [f"{entry.target}: {entry.reason}" for entry in missing],
        ))
    shown = tables_missing[:MISSING_IN_RESULT]
    return {
        "done": not units and not latest,
        "database": settings.glue_database,
        "workgroup": settings.workgroup,
        "export_root": location.root_uri,
        "plan_bucket": plan_bucket,
        "plan_key": plan_key,
        "report_key": report_key,
        "report_uri": report_uri,
        "cursor": 0,
        "units": len(units) + len(latest),
        "statements": sum(len(unit.statements) for unit in units),
        "latest_tables": len(latest),
        "tables_created": len(plans),
        "tables_skipped": len(tables_missing),
        "sample_table": plans[0].latest if plans else None,
        "partial": partial,
        "missing_tables": [{"table": limits.cut_text(e.target, REASON_CHARS), "reason": limits.cut_text(e.reason, REASON_CHARS)} for e in shown],
        "missing_tables_more": len(tables_missing) - len(shown),
        "invocations": 1,
        "statements_succeeded": 0,
        "latest_repointed": 0,
        "throttled": 0,
        "started_at": started,
        "athena_seconds": round(clock.now() - started, 3),
    }


def run_step(state: Mapping[str, Any], settings: Settings, deadline: float) -> dict[str, Any]:
    """Run the plan from the cursor until done or the deadline is near: versioned DDL, then latest tables."""
    previous = dict(state["athena"])
    export_id = (state.get("export") or {}).get("export_task_identifier")
    plan = _get_json(previous["plan_bucket"], previous["plan_key"])
    if not isinstance(plan, dict) or plan.get("export_task_identifier") != export_id:
        raise ExportMetadataInvalid(f"s3://{previous['plan_bucket']}/{previous['plan_key']} is not the Athena plan of export {export_id}")
    if plan.get("version") != PLAN_VERSION:
        # Written by an earlier release before a deployment (v1: DROP + CREATE of latest tables by
        # DDL). Every statement and upsert is idempotent, so planning again and starting over is safe.
        logger.warning("Athena plan of an earlier release; planning again", extra={"plan_version": plan.get("version")})
        replanned = plan_step(state, settings)
        replanned["invocations"] = int(previous.get("invocations") or 0) + 1
        return replanned
    units = [Unit(tuple(unit["statements"]), int(unit["phase"])) for unit in plan["units"]]
    latest: list[dict[str, Any]] = plan["latest"]
    cursor = int(previous.get("cursor") or 0)
    succeeded = repointed = throttled = 0
    if cursor < len(units):
        statements_run = run_units(
            clients.client("athena"),
            units,
            cursor,
            database=plan["glue_database"],
            workgroup=settings.workgroup,
            concurrency=settings.concurrency,
            deadline=deadline,
        )
        cursor, succeeded, throttled = statements_run.cursor, statements_run.statements_succeeded, statements_run.throttled
        logger.info("Athena statements run", extra={"cursor": statements_run.cursor, "units": len(units), "done": statements_run.done,
                                                    "succeeded": statements_run.statements_succeeded, "throttled": statements_run.throttled,
                                                    "start_calls": statements_run.start_calls, "status_calls": statements_run.status_calls})
    if cursor >= len(units):  # every versioned table exists: re-point the latest tables
        glue = upsert_glue_tables(
            clients.client("glue"), plan["glue_database"], latest, cursor - len(units),
            deadline=deadline, workers=settings.glue_workers, existing=frozenset(plan.get("latest_existing") or ()),
        )
        cursor, repointed, throttled = len(units) + glue.cursor, glue.updated + glue.created, throttled + glue.throttled
        logger.info("Latest tables re-pointed", extra={"cursor": glue.cursor, "tables": len(latest), "done": glue.done,
                                                       "glue_updated": glue.updated, "glue_created": glue.created,
                                                       "glue_throttled": glue.throttled, "glue_calls": glue.calls})
    previous.update(
        done=cursor >= len(units) + len(latest),
        cursor=cursor,
        invocations=int(previous.get("invocations") or 0) + 1,
        statements_succeeded=int(previous.get("statements_succeeded") or 0) + succeeded,
        latest_repointed=int(previous.get("latest_repointed") or 0) + repointed,
        throttled=int(previous.get("throttled") or 0) + throttled,
        athena_seconds=round(clock.now() - float(previous.get("started_at") or clock.now()), 3),
    )
    return previous


def create_athena_tables(state: Mapping[str, Any], settings: Settings, deadline: float) -> dict[str, Any]:
    """The step: plan on the first call and start running the plan; later calls run it until done.

    Running right after planning lets a typical export finish in one invocation,
    which saves the state machine a loop (two billed transitions) on every run.
    """
    previous = state.get("athena")
    if not isinstance(previous, dict) or not previous.get("plan_key"):
        planned = plan_step(state, settings)
        if planned.get("done") or clock.now() >= deadline:
            return planned
        ran = run_step({**state, "athena": planned}, settings, deadline)
        ran["invocations"] = planned["invocations"]
        return ran
    if previous.get("done"):
        return dict(previous)
    return run_step(state, settings, deadline)
