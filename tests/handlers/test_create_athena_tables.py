"""CreateAthenaTables handler against moto's S3, Glue and Athena, invoked in a loop as the state machine does.

Athena is the emulated account's simulator (queries take simulated time and
share Athena's 20-query DDL limit) on moto; moto 5.2.5 has no
BatchGetQueryExecution, so the tests serve it from the simulator's
GetQueryExecution. Versioned tables exist in the simulator's table list (DDL),
latest tables in moto's Glue catalog (the Glue API).
"""

from __future__ import annotations

import copy
import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters
from moto.athena.models import athena_backends
from moto.athena.responses import AthenaResponse
from moto.glue.models import glue_backends
from moto.s3.models import s3_backends

from aurora_lake import clients, clock
from aurora_lake.catalog.runner import DEFAULT_GLUE_WORKERS
from aurora_lake.errors import AthenaQueryFailed, PartialExport, UnmappableColumnType
from emulated_account import athena_sim
from emulated_account.clock import VirtualClock
from .conftest import ACCOUNT, REGION, load_handler

BUCKET = "aurora-lake-export-bucket"
DATABASE = "aurora_lake"
WORKGROUP = "aurora-lake"
CLUSTER = "demo-aurora-cluster"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"

handler = load_handler("create_athena_tables")


class FailingAthena(athena_sim.AthenaSimulator):
    """The simulator, plus DDL that fails with a given reason when its text holds a given string."""

    failures: dict[str, str]

    def _apply_ddl(self, query: str, database: str | None) -> str | None:
        for text, reason in getattr(self, "failures", {}).items():
            if text in query:
                return reason
        return super()._apply_ddl(query, database)


def batch_get_query_execution(self: Any) -> str:
    """BatchGetQueryExecution for moto: each id answered as GetQueryExecution (as patched) answers it."""
    found, unprocessed = [], []
    for query_id in self._get_param("QueryExecutionIds") or []:
        if query_id not in self.athena_backend.executions:
            unprocessed.append({"QueryExecutionId": query_id, "ErrorCode": "InvalidRequestException",
                                "ErrorMessage": f"QueryExecution {query_id} was not found"})
            continue
        single = copy.copy(self)
        single.body, single.querystring = json.dumps({"QueryExecutionId": query_id}), {}
        found.append(json.loads(AthenaResponse.get_query_execution(single))["QueryExecution"])
    return json.dumps({"QueryExecutions": found, "UnprocessedQueryExecutionIds": unprocessed})


@dataclass
class Lake:
    clock: VirtualClock
    athena: FailingAthena

    def sleep(self, seconds: float) -> None:
        self.clock.sleep(seconds)

    @property
    def now(self) -> float:
        return self.clock.now()


class LambdaContext:
    function_name = "CreateAthenaTables"
    aws_request_id = "req-1"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:CreateAthenaTables"

    def __init__(self, timeout_seconds: float = 900.0) -> None:
        self.ends = clock.now() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.ends - clock.now()) * 1000)


def make_lake(ddl_latency: float = 0.0, ddl_concurrency: int = athena_sim.DEFAULT_DDL_CONCURRENCY) -> Iterator[Lake]:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    boto3.client("athena").create_work_group(Name=WORKGROUP, Configuration={})
    boto3.client("glue").create_database(DatabaseInput={"Name": DATABASE})
    virtual = VirtualClock()
    simulator = FailingAthena(virtual, ddl_latency_seconds=ddl_latency, ddl_concurrency=ddl_concurrency)
    clock.use_time_source(virtual.now, virtual.sleep)
    try:
        with athena_sim.installed(simulator):
            if "batch_get_query_execution" in vars(AthenaResponse):  # the simulator serves it itself
                yield Lake(virtual, simulator)
            else:
                with mock.patch.object(AthenaResponse, "batch_get_query_execution", batch_get_query_execution, create=True):
                    yield Lake(virtual, simulator)
    finally:
        clock.use_real_time()


@pytest.fixture
def lake(aws: None, environment: Any) -> Iterator[Lake]:
    environment(EXPORT_BUCKET=BUCKET, GLUE_DATABASE=DATABASE, ATHENA_WORKGROUP=WORKGROUP,
                ATHENA_DDL_CONCURRENCY="20", FAIL_ON_PARTIAL_EXPORT="false")
    yield from make_lake()


def executions() -> list[Any]:
    return list(athena_backends[ACCOUNT][REGION].executions.values())


def glue_table(name: str) -> dict[str, Any]:
    return boto3.client("glue").get_table(DatabaseName=DATABASE, Name=name)["Table"]


def glue_tables() -> dict[str, Any]:
    return glue_backends[ACCOUNT][REGION].databases[DATABASE].tables


def latest_tables() -> set[str]:
    """The latest tables in Glue (Athena's DDL puts the versioned ones, ``_...``, there too)."""
    return {name for name in glue_tables() if not name.startswith("_")}


def columns(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"originalTypeMappings": [
        {"columnName": name, "originalType": original, "expectedExportedType": exported,
         "originalCharMaxLength": 0, "originalNumPrecision": 0, "originalDateTimePrecision": 0}
        for name, exported, original in ((p[0], p[1], p[2] if len(p) > 2 else "") for p in pairs)
    ]}


def rds_folder(target: str) -> str:
    """Where RDS writes a table's files: DATABASE/SCHEMA.TABLE with \\ ` " and space turned into _."""
    database, rest = target.split(".", 1)
    for char in '\\`" ':
        database, rest = database.replace(char, "_"), rest.replace(char, "_")
    return f"{database}/{rest if '.' in rest else database + '.' + rest}/"


def write_export(export_id: str, files: list[list[dict[str, Any]]], prefix: str = "exports/",
                 without_data: frozenset[str] = frozenset(), markers: bool = True) -> None:
    """The metadata files, a part file (and _SUCCESS markers) for every COMPLETE table not in ``without_data``."""
    s3 = boto3.client("s3")
    root = f"{prefix}{export_id}/"
    s3.put_object(Bucket=BUCKET, Key=f"{root}export_info_{export_id}.json",
                  Body=json.dumps({"exportTaskIdentifier": export_id, "status": "COMPLETE"}).encode())
    # Straight into moto's bucket, as RDS writes them: thousands of files in no time.
    bucket = s3_backends[ACCOUNT]["aws"]
    for entry in (entry for entries in files for entry in entries):
        folder = root + rds_folder(entry["target"])
        if markers:
            bucket.put_object(BUCKET, f"{folder}_SUCCESS", b"")
        if entry.get("status") == "COMPLETE" and entry["target"] not in without_data:
            bucket.put_object(BUCKET, f"{folder}1/part-00000-0b7e2c1d.gz.parquet", b"PAR1")
            if markers:
                bucket.put_object(BUCKET, f"{folder}1/_SUCCESS", b"")
    start = 1
    for entries in files:
        end = start + len(entries) - 1
        s3.put_object(Bucket=BUCKET, Key=f"{root}export_tables_info_{export_id}_from_{start}_to_{end}.json",
                      Body=json.dumps({"perTableStatus": entries}).encode())
        start = end + 1


def state(export_id: str, warning: str | None = None, **job: Any) -> dict[str, Any]:
    return {
        "job": {"cluster_identifier": CLUSTER, "execution_name": "run-1", "account": ACCOUNT, **job},
        "snapshot": {"status": "available"},
        "export": {"export_task_identifier": export_id, "s3_bucket": BUCKET, "s3_prefix": "exports/",
                   "status": "COMPLETE", "warning_message": warning, "total_extracted_gb": 1.5},
    }


def run_until_done(lake: Lake, event: dict[str, Any], max_invocations: int = 50) -> list[dict[str, Any]]:
    results = []
    for _ in range(max_invocations):
        result = handler.lambda_handler(event, LambdaContext())
        json.dumps(result)  # the state must be plain JSON
        results.append(result)
        event = {**event, "athena": result}
        if result["done"]:
            return results
        lake.sleep(0.2)  # the Choice state and the next Task
    raise AssertionError(f"not done after {max_invocations} invocations")


LEDGER = {"target": "mydb.public.Ledger_Entries", "status": "COMPLETE", "sizeGB": 0.1,
          "schemaMetadata": columns(("id", "int64", "bigint"), ("Date", "int32 (DATE)", "date"),
                                    ("amount", "int64 (DECIMAL(12,2))", "numeric(12,2)"), ("1st", "binary (UTF8)", "text"))}
USERS = {"target": "mydb.public.users", "status": "COMPLETE",
         "schemaMetadata": columns(("user_id", "int32", "integer"), ("created", "int64 (TIMESTAMP_MICRO)", "timestamp"))}
SKIPPED = {"target": "mydb.public.tmp_sessions", "status": "SKIPPED", "warningMessage": "Temporary tables are not exported"}


LEDGER_DDL = (
    "CREATE EXTERNAL TABLE IF NOT EXISTS `aurora_lake`.`{name}` (\n"
    "  id bigint COMMENT 'bigint',\n"
    "  `date` date COMMENT 'date',\n"
    "  amount decimal(12,2) COMMENT 'numeric(12,2)',\n"
    "  `1st` string COMMENT 'text'\n"
    ")\n"
    "COMMENT 'mydb.public.Ledger_Entries from Aurora export exp-1'\n"
    "STORED AS PARQUET\n"
    f"LOCATION 's3://{BUCKET}/exports/exp-1/mydb/public.Ledger_Entries/'\n"
    "TBLPROPERTIES (\n"
    "  'classification'='parquet',\n"
    "  'parquet.compression'='GZIP',\n"
    f"  'aurora_lake.stack'='glue:aurora_lake s3:{BUCKET}',\n"
    f"  'aurora_lake.source_account'='{ACCOUNT}',\n"
    "  'aurora_lake.source_kind'='cluster',\n"
    "  'aurora_lake.source_identifier'='demo-aurora-cluster',\n"
    "  'aurora_lake.source_table'='mydb.public.Ledger_Entries',\n"
    "  'aurora_lake.table_role'='versioned',\n"
    "  'aurora_lake.export_task_identifier'='exp-1'\n"
    ")"
)
LEDGER_LATEST = "demo_aurora_cluster__mydb__public__ledger_entries"
USERS_LATEST = "demo_aurora_cluster__mydb__public__users"


def test_one_ddl_query_per_table_then_latest_tables_in_glue(lake: Lake) -> None:
    write_export("exp-1", [[LEDGER, SKIPPED], [USERS]])
    results = run_until_done(lake, state("exp-1"))

    final = results[-1]
    assert final["done"] is True and final["partial"] is True
    assert final["tables_created"] == 2 and final["tables_skipped"] == 1
    assert final["missing_tables"] == [{"table": "mydb.public.tmp_sessions", "reason": "Temporary tables are not exported"}]
    assert final["sample_table"] == LEDGER_LATEST
    assert final["statements"] == 2 and final["statements_succeeded"] == 2
    assert final["latest_tables"] == 2 and final["latest_repointed"] == 2

    # Athena: exactly one CREATE per table, for the versioned table; nothing else.
    assert all(e.workgroup.name == WORKGROUP and e.context == {"Database": DATABASE} for e in executions())
    queries = [e.query for e in executions()]
    assert len(queries) == 2
    assert LEDGER_DDL.format(name="_" + LEDGER_LATEST + "__exp_1") in queries
    users_ddl = next(q for q in queries if f"`_{USERS_LATEST}__exp_1`" in q)
    assert "  user_id int COMMENT 'integer',\n  created timestamp COMMENT 'timestamp'\n)" in users_ddl
    assert f"LOCATION 's3://{BUCKET}/exports/exp-1/mydb/public.users/'" in users_ddl
    assert set(lake.athena.tables) == {f"{DATABASE}._{LEDGER_LATEST}__exp_1", f"{DATABASE}._{USERS_LATEST}__exp_1"}

    # Glue: the latest tables, the same definition under the stable name.
    ledger = glue_table(LEDGER_LATEST)
    assert ledger["TableType"] == "EXTERNAL_TABLE"
    assert ledger["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/exports/exp-1/mydb/public.Ledger_Entries/"
    assert ledger["StorageDescriptor"]["Columns"] == [
        {"Name": "id", "Type": "bigint", "Comment": "bigint"},
        {"Name": "date", "Type": "date", "Comment": "date"},
        {"Name": "amount", "Type": "decimal(12,2)", "Comment": "numeric(12,2)"},
        {"Name": "1st", "Type": "string", "Comment": "text"},
    ]
    assert ledger["StorageDescriptor"]["InputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    assert ledger["StorageDescriptor"]["OutputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    assert ledger["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert ledger["Parameters"] == {
        "EXTERNAL": "TRUE", "classification": "parquet", "parquet.compression": "GZIP",
        "aurora_lake.stack": f"glue:aurora_lake s3:{BUCKET}", "aurora_lake.source_account": ACCOUNT,
        "aurora_lake.source_kind": "cluster", "aurora_lake.source_identifier": CLUSTER,
        "aurora_lake.source_table": "mydb.public.Ledger_Entries", "aurora_lake.table_role": "latest",
        "aurora_lake.export_task_identifier": "exp-1",
        "aurora_lake.versioned_table": "_" + LEDGER_LATEST + "__exp_1",
        "comment": "mydb.public.Ledger_Entries from Aurora export exp-1",
    }
    users = glue_table(USERS_LATEST)
    assert [(c["Name"], c["Type"]) for c in users["StorageDescriptor"]["Columns"]] == [("user_id", "int"), ("created", "timestamp")]
    assert users["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/exports/exp-1/mydb/public.users/"
    # Latest tables go through the Glue API (the versioned ones through Athena DDL), and no skipped table.
    assert latest_tables() == {LEDGER_LATEST, USERS_LATEST}
    assert set(glue_tables()) == latest_tables() | {"_" + LEDGER_LATEST + "__exp_1", "_" + USERS_LATEST + "__exp_1"}
    versioned = glue_table("_" + LEDGER_LATEST + "__exp_1")
    assert versioned["StorageDescriptor"]["Columns"] == ledger["StorageDescriptor"]["Columns"]
    assert versioned["Parameters"]["aurora_lake.table_role"] == "versioned"

    report = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=final["report_key"])["Body"].read())
    assert report["missing"] == [{"table": "mydb.public.tmp_sessions", "reason": "Temporary tables are not exported"}]
    assert [t["versioned"] for t in report["tables"]] == ["_" + LEDGER_LATEST + "__exp_1", "_" + USERS_LATEST + "__exp_1"]
    plan = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=final["plan_key"])["Body"].read())
    assert [unit["statements"] for unit in plan["units"]] == [[LEDGER_DDL.format(name="_" + LEDGER_LATEST + "__exp_1")], [users_ddl]]
    assert [table["Name"] for table in plan["latest"]] == [LEDGER_LATEST, USERS_LATEST]


def test_a_second_export_repoints_latest_and_keeps_the_first_versioned(lake: Lake) -> None:
    write_export("exp-1", [[USERS]])
    write_export("exp-2", [[{**USERS, "schemaMetadata": columns(("user_id", "int64"), ("email", "binary (UTF8)"))}]])
    run_until_done(lake, state("exp-1"))
    first = glue_table(USERS_LATEST)
    run_until_done(lake, state("exp-2"))

    queries = [e.query for e in executions()]
    assert len(queries) == 2 and not any(q.startswith("DROP") for q in queries)
    assert queries[1].startswith(f"CREATE EXTERNAL TABLE IF NOT EXISTS `aurora_lake`.`_{USERS_LATEST}__exp_2` (")
    # Both versioned tables stay; the latest one now reads the second export, with its columns.
    assert set(lake.athena.tables) == {f"{DATABASE}._{USERS_LATEST}__exp_1", f"{DATABASE}._{USERS_LATEST}__exp_2"}
    latest = glue_table(USERS_LATEST)
    assert latest["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/exports/exp-2/mydb/public.users/"
    assert [(c["Name"], c["Type"]) for c in latest["StorageDescriptor"]["Columns"]] == [("user_id", "bigint"), ("email", "string")]
    assert latest["Parameters"]["aurora_lake.export_task_identifier"] == "exp-2"
    assert latest["Parameters"]["aurora_lake.versioned_table"] == "_" + USERS_LATEST + "__exp_2"
    # Updated in place (never deleted and created again): same table, created once.
    assert latest["CreateTime"] == first["CreateTime"]
    assert first["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/exports/exp-1/mydb/public.users/"


def test_a_failed_ddl_statement_moves_no_latest_table(lake: Lake) -> None:
    write_export("exp-1", [[USERS, LEDGER]])
    run_until_done(lake, state("exp-1"))
    write_export("exp-2", [[USERS, LEDGER]])
    lake.athena.failures = {f"`_{USERS_LATEST}__exp_2`": "FAILED: AccessDeniedException: not authorized to perform glue:CreateTable"}
    with pytest.raises(AthenaQueryFailed, match="not authorized to perform glue:CreateTable") as raised:
        run_until_done(lake, state("exp-2"))
    assert f"`_{USERS_LATEST}__exp_2`" in str(raised.value)
    # The ledger's versioned DDL may have succeeded, but no latest table left the first export.
    for name in (USERS_LATEST, LEDGER_LATEST):
        assert glue_table(name)["Parameters"]["aurora_lake.export_task_identifier"] == "exp-1"


def test_a_latest_table_created_by_someone_else_meanwhile_is_updated(lake: Lake) -> None:
    write_export("exp-1", [[USERS]])
    glue = clients.client("glue")
    real_create = glue.create_table

    def racing_create(**kwargs: Any) -> Any:
        real_create(**{**kwargs, "TableInput": {**kwargs["TableInput"], "StorageDescriptor": {"Location": "s3://elsewhere/"}}})
        return real_create(**kwargs)  # AlreadyExistsException: the other writer won

    with mock.patch.object(glue, "create_table", racing_create):
        run_until_done(lake, state("exp-1"))
    assert glue_table(USERS_LATEST)["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/exports/exp-1/mydb/public.users/"


def test_a_glue_error_fails_loudly_named_after_its_code(lake: Lake) -> None:
    write_export("exp-1", [[USERS]])
    glue_backends[ACCOUNT][REGION].delete_database(DATABASE)
    with pytest.raises(Exception) as raised:
        run_until_done(lake, state("exp-1"))
    assert type(raised.value).__name__ == "EntityNotFoundException"
    # The plan reads the catalog's owners first: the step fails before any change.
    assert "GetTables" in str(raised.value)
    assert executions() == []


def test_a_plan_of_the_earlier_release_is_planned_again(lake: Lake) -> None:
    # An execution that was running when this release was deployed holds a version 1 plan.
    write_export("exp-1", [[USERS]])
    first = handler.lambda_handler(state("exp-1"), LambdaContext())
    s3 = boto3.client("s3")
    s3.put_object(Bucket=BUCKET, Key=first["plan_key"], Body=json.dumps({
        "version": 1, "export_task_identifier": "exp-1", "glue_database": DATABASE,
        "units": [{"phase": 1, "statements": [f"DROP TABLE IF EXISTS `{DATABASE}`.`{USERS_LATEST}`"]}]}).encode())
    results = run_until_done(lake, {**state("exp-1"), "athena": {**first, "cursor": 0, "done": False}})
    assert results[0]["cursor"] == 0 and not results[0]["done"]
    assert results[-1]["done"] and results[-1]["latest_repointed"] == 1
    assert not any(e.query.startswith("DROP") for e in executions())
    assert glue_table(USERS_LATEST)["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/exports/exp-1/mydb/public.users/"


def test_a_given_snapshot_names_its_source_cluster(lake: Lake) -> None:
    write_export("exp-1", [[USERS]])
    run_until_done(lake, state("exp-1", cluster_identifier=None, source_cluster_identifier="prod-cluster"))
    assert latest_tables() == {"prod_cluster__mydb__public__users"}
    assert any("`_prod_cluster__mydb__public__users__exp_1`" in e.query for e in executions())


def test_the_snapshot_names_the_cluster_when_the_job_does_not(lake: Lake) -> None:
    write_export("exp-1", [[USERS]])
    event = state("exp-1", cluster_identifier=None)
    event["snapshot"]["source_cluster_identifier"] = "from-snapshot"
    run_until_done(lake, event)
    assert latest_tables() == {"from_snapshot__mydb__public__users"}
    assert any("`_from_snapshot__mydb__public__users__exp_1`" in e.query for e in executions())


def test_export_warning_makes_the_result_partial(lake: Lake) -> None:
    write_export("exp-1", [[USERS]])
    warning = json.dumps({"skippedTables": [], "skippedObjectives": [], "general": [{"reason": "FAILED_TO_EXTRACT_TABLES_LIST_FOR_DATABASE"}]})
    final = run_until_done(lake, state("exp-1", warning=warning))[-1]
    assert final["partial"] is True and final["tables_created"] == 1
    report = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=final["report_key"])["Body"].read())
    assert report["missing"] == [{"table": "(export)", "reason": "FAILED_TO_EXTRACT_TABLES_LIST_FOR_DATABASE"}]


ORDER_NOTES = {"target": "mydb.public.Order Notes", "status": "COMPLETE",
               "schemaMetadata": columns(("order_id", "int64", "bigint"), ("priority", "int32 (INT_16)", "smallint"))}
ORDER_NOTES_LATEST = "demo_aurora_cluster__mydb__public__order_notes"


def test_a_renamed_path_is_located_where_rds_writes_it(lake: Lake) -> None:
    # RDS writes public.Order Notes under public.Order_Notes/ (space -> _); the metadata keeps the name.
    write_export("exp-1", [[ORDER_NOTES]])
    final = run_until_done(lake, state("exp-1"))[-1]
    assert final["partial"] is False and final["tables_created"] == 1
    location = f"s3://{BUCKET}/exports/exp-1/mydb/public.Order_Notes/"
    assert glue_table(ORDER_NOTES_LATEST)["StorageDescriptor"]["Location"] == location
    [ddl] = [e.query for e in executions()]
    assert f"LOCATION '{location}'" in ddl and "priority smallint" in ddl
    assert glue_table(ORDER_NOTES_LATEST)["Parameters"]["aurora_lake.source_table"] == "mydb.public.Order Notes"


def test_a_table_without_data_files_is_missing_and_never_created(lake: Lake) -> None:
    # The users folder holds only _SUCCESS markers: a table over it would answer every query with no rows.
    write_export("exp-1", [[LEDGER, USERS]], without_data=frozenset({USERS["target"]}))
    final = run_until_done(lake, state("exp-1"))[-1]
    assert final["partial"] is True and final["tables_created"] == 1 and final["tables_skipped"] == 1
    [missing] = final["missing_tables"]
    assert missing["table"] == "mydb.public.users"
    assert f"s3://{BUCKET}/exports/exp-1/mydb/public.users/ holds no data file" in missing["reason"]
    assert latest_tables() == {LEDGER_LATEST}
    assert not any(USERS_LATEST in e.query for e in executions())
    report = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=final["report_key"])["Body"].read())
    assert [entry["table"] for entry in report["missing"]] == ["mydb.public.users"]
    assert [table["source"] for table in report["tables"]] == ["mydb.public.Ledger_Entries"]


def test_a_table_without_data_files_fails_a_strict_deployment(lake: Lake, environment: Any) -> None:
    environment(FAIL_ON_PARTIAL_EXPORT="true")
    write_export("exp-1", [[USERS]], without_data=frozenset({USERS["target"]}))
    with pytest.raises(PartialExport, match="mydb.public.users: the metadata lists it, but"):
        run_until_done(lake, state("exp-1"))
    assert executions() == [] and glue_tables() == {}


def test_partial_export_fails_when_configured_before_any_table_changes(lake: Lake, environment: Any) -> None:
    environment(FAIL_ON_PARTIAL_EXPORT="true")
    write_export("exp-1", [[USERS, SKIPPED]])
    with pytest.raises(PartialExport) as raised:
        handler.lambda_handler(state("exp-1"), LambdaContext())
    assert "mydb.public.tmp_sessions: Temporary tables are not exported" in str(raised.value)
    # The plan's key carries the account the export ran in (export ids are unique per account only).
    assert f"s3://{BUCKET}/athena-plans/123456789012/exp_1/report.json" in str(raised.value)
    assert executions() == [] and glue_tables() == {}


def test_an_unmappable_type_fails_naming_table_and_column(lake: Lake) -> None:
    bad = {**USERS, "schemaMetadata": columns(("user_id", "int64"), ("flags", "int32 (INT(8,false))"))}
    write_export("exp-1", [[bad]])
    with pytest.raises(UnmappableColumnType, match=r"mydb\.public\.users\.flags: unsigned"):
        handler.lambda_handler(state("exp-1"), LambdaContext())
    assert executions() == [] and glue_tables() == {}


def test_names_colliding_after_lower_casing_leave_those_tables_out_and_catalogue_the_rest(lake: Lake) -> None:
    upper = {**USERS, "target": "mydb.public.Users"}
    dup_columns = {**LEDGER, "schemaMetadata": columns(("ID", "int64"), ("id", "int64"))}
    orders = {**USERS, "target": "mydb.public.orders"}
    for listing in ([USERS, upper, dup_columns, orders], [orders, dup_columns, upper, USERS]):
        export_id = f"exp-{len(executions()) + 1}"
        write_export(export_id, [listing])
        final = run_until_done(lake, state(export_id))[-1]
        assert final["partial"] is True and final["tables_created"] == 1
        reasons = {entry["table"]: entry["reason"] for entry in final["missing_tables"]}
        assert set(reasons) == {"mydb.public.users", "mydb.public.Users", "mydb.public.Ledger_Entries"}
        assert "mydb.public.Users would all be named demo_aurora_cluster__mydb__public__users" in reasons["mydb.public.users"]
        assert "mydb.public.users would all be named" in reasons["mydb.public.Users"]
        assert "columns ID and id would all be column id" in reasons["mydb.public.Ledger_Entries"]
        # Whichever order the export lists them in: neither takes the name.
        assert latest_tables() == {"demo_aurora_cluster__mydb__public__orders"}


# A realistic Athena: 1.5 s per DDL query, 20 DDL queries at once per account; every API call
# takes 0.05 s (Glue calls too, spread over the step's parallel Glue workers).
DDL_SECONDS = 1.5
DDL_CONCURRENCY = 20
API_CALL_SECONDS = 0.05


class ClientSideAthena:
    """Athena with the emulated account's rules, answered in the client instead of through moto.

    moto costs about 2 ms of real time per call, and 5,000 tables need 5,000
    StartQueryExecution calls: served here, the 5,000-table test runs in seconds.
    Same rules as ``athena_sim``: a DDL query runs DDL_SECONDS, a DDL start while
    DDL_CONCURRENCY run is refused with TooManyRequestsException. Parameters are
    still checked by botocore against the Athena API model.
    """

    def __init__(self, lake: Lake) -> None:
        self.lake = lake
        self.model = boto3.client("athena").meta.service_model
        self.records: dict[str, athena_sim.QueryRecord] = {}
        self.ends: list[float] = []
        self.refused = 0
        self.calls: dict[str, int] = {}

    def _call(self, operation: str, params: dict[str, Any]) -> None:
        validate_parameters(params, self.model.operation_model(operation).input_shape)
        self.calls[operation] = self.calls.get(operation, 0) + 1
        self.lake.sleep(API_CALL_SECONDS)

    def start_query_execution(self, **params: Any) -> dict[str, Any]:
        self._call("StartQueryExecution", params)
        now, query = self.lake.now, params["QueryString"]
        while self.ends and self.ends[0] <= now:
            heapq.heappop(self.ends)
        ddl = athena_sim.is_ddl(query)
        if ddl and len(self.ends) >= DDL_CONCURRENCY:
            self.refused += 1
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}, "StartQueryExecution")
        query_id = f"q-{len(self.records)}"
        record = athena_sim.QueryRecord(query_id, query, params.get("WorkGroup"),
                                        (params.get("QueryExecutionContext") or {}).get("Database"),
                                        now, now + (DDL_SECONDS if ddl else 0.0), ddl)
        self.records[query_id] = record
        if ddl:
            heapq.heappush(self.ends, record.finishes_at)
        return {"QueryExecutionId": query_id}

    def batch_get_query_execution(self, **params: Any) -> dict[str, Any]:
        self._call("BatchGetQueryExecution", params)
        now = self.lake.now
        return {"QueryExecutions": [
            {"QueryExecutionId": query_id,
             "Status": {"State": "RUNNING" if self.records[query_id].finishes_at > now else "SUCCEEDED"}}
            for query_id in params["QueryExecutionIds"]
        ], "UnprocessedQueryExecutionIds": []}


@pytest.fixture
def realistic_lake(aws: None, environment: Any) -> Iterator[tuple[Lake, ClientSideAthena]]:
    environment(EXPORT_BUCKET=BUCKET, GLUE_DATABASE=DATABASE, ATHENA_WORKGROUP=WORKGROUP,
                ATHENA_DDL_CONCURRENCY=str(DDL_CONCURRENCY), FAIL_ON_PARTIAL_EXPORT="false")
    for lake in make_lake():
        athena = ClientSideAthena(lake)
        real_client = clients.client
        real_client("glue").meta.events.register(
            "before-call.glue", lambda **_: lake.sleep(API_CALL_SECONDS / DEFAULT_GLUE_WORKERS))
        # Undone here, before the aws fixture resets the real client cache.
        with mock.patch.object(clients, "client", lambda service: athena if service == "athena" else real_client(service)):
            yield lake, athena


def max_concurrent_ddl(records: list[athena_sim.QueryRecord]) -> int:
    events = sorted([(r.started_at, 1) for r in records if r.ddl] + [(r.finishes_at, -1) for r in records if r.ddl])
    running = peak = 0
    for _, step in events:  # at equal instants an end (-1) sorts before a start (+1)
        running += step
        peak = max(peak, running)
    return peak


@pytest.mark.slow
def test_five_thousand_tables_within_600_simulated_seconds_and_small_state(
    realistic_lake: tuple[Lake, ClientSideAthena], capsys: pytest.CaptureFixture[str]
) -> None:
    (lake, athena), tables = realistic_lake, 5000
    entries = [
        {"target": f"mydb.public.table_{i:04d}", "status": "COMPLETE", "sizeGB": 0.01,
         "schemaMetadata": columns(("id", "int64", "bigint"), ("name", "binary (UTF8)", "text"), ("updated_at", "int64 (TIMESTAMP_MICRO)", "timestamp"))}
        for i in range(tables)
    ]
    # No markers here: moto renders each listing page slowly, and markers triple the keys.
    write_export("exp-big", [entries[i:i + 250] for i in range(0, tables, 250)], markers=False)
    glue_calls: dict[str, int] = {}
    clients.client("glue").meta.events.register(
        "before-call.glue", lambda model, **_: glue_calls.__setitem__(model.name, glue_calls.get(model.name, 0) + 1))
    full_listings: list[dict[str, Any]] = []
    clients.client("s3").meta.events.register(
        "before-call.s3.ListObjectsV2",
        lambda params, **_: None if params["query_string"].get("delimiter") else full_listings.append(params["query_string"]))
    started = lake.now

    results = run_until_done(lake, state("exp-big"))

    sizes = [len(json.dumps(result).encode()) for result in results]
    simulated = lake.now - started
    with capsys.disabled():
        print(f"\n5,000 tables: {len(results)} invocations, largest $.athena result {max(sizes)} bytes, "
              f"Athena step {simulated:.0f} simulated seconds ({DDL_SECONDS} s per DDL query, {DDL_CONCURRENCY} at once); "
              f"API calls {dict(sorted({**athena.calls, **glue_calls}.items()))}")
    assert simulated <= 600 and results[-1]["athena_seconds"] <= 600
    # The LOCATIONs were checked against one paginated listing of the export (5,021 keys), not a call per table.
    export_listings = [p for p in full_listings if p["prefix"] == "exports/exp-big/"]
    assert len(export_listings) == 6 and sum("continuation-token" not in p for p in export_listings) == 1
    assert results[0]["tables_created"] == tables and not results[-1]["partial"]
    # Athena alone cannot take less than 5,000 x 1.5 s / 20: the DDL is really simulated.
    assert simulated >= tables * DDL_SECONDS / DDL_CONCURRENCY
    assert max(sizes) < 10 * 1024
    assert len(results) <= 4
    # One DDL query per table (a deadline stop may repeat at most what was in flight), never more than 20 at once.
    records = list(athena.records.values())
    assert {r.query.split(" (", 1)[0] for r in records} == {
        f"CREATE EXTERNAL TABLE IF NOT EXISTS `aurora_lake`.`_demo_aurora_cluster__mydb__public__table_{i:04d}__exp_big`"
        for i in range(tables)
    }
    assert len(records) <= tables + DDL_CONCURRENCY * len(results)
    assert all(r.workgroup == WORKGROUP and r.database == DATABASE for r in records)
    assert max_concurrent_ddl(records) <= DDL_CONCURRENCY and athena.refused == 0
    # Status polled in batches: far fewer calls than queries.
    assert athena.calls["BatchGetQueryExecution"] < tables / 2
    # Every latest table is in Glue, over the new export, one Glue call per table (plus the first guess).
    assert results[-1]["latest_repointed"] == tables and results[-1]["statements_succeeded"] >= tables
    assert len(latest_tables()) == tables
    assert glue_calls.get("CreateTable", 0) + glue_calls.get("UpdateTable", 0) <= tables + DEFAULT_GLUE_WORKERS
    sample = glue_table("demo_aurora_cluster__mydb__public__table_4999")
    assert sample["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/exports/exp-big/mydb/public.table_4999/"
    assert [(c["Name"], c["Type"]) for c in sample["StorageDescriptor"]["Columns"]] == [
        ("id", "bigint"), ("name", "string"), ("updated_at", "timestamp")]


def test_many_missing_tables_keep_the_result_small(lake: Lake) -> None:
    skipped = [{"target": f"mydb.public.t{i}", "status": "SKIPPED", "warningMessage": "x" * 2000} for i in range(500)]
    write_export("exp-1", [[USERS], skipped])
    final = run_until_done(lake, state("exp-1"))[-1]
    assert final["partial"] is True and final["tables_skipped"] == 500
    assert len(final["missing_tables"]) == 10 and final["missing_tables_more"] == 490
    assert all(len(entry["reason"]) <= 300 for entry in final["missing_tables"])
    assert len(json.dumps(final).encode()) < 10 * 1024
    report = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=final["report_key"])["Body"].read())
    assert len(report["missing"]) == 500


def test_settings_from_environment() -> None:
    from aurora_lake.catalog import Settings

    settings = Settings.from_env({"GLUE_DATABASE": "lake", "ATHENA_WORKGROUP": "wg", "EXPORT_BUCKET": "b",
                                  "ATHENA_DDL_CONCURRENCY": "5", "FAIL_ON_PARTIAL_EXPORT": "TRUE"})
    assert settings == Settings(glue_database="lake", workgroup="wg", plan_bucket="b", concurrency=5, fail_on_partial=True)
    defaults = Settings.from_env({"GLUE_DATABASE": "lake", "ATHENA_WORKGROUP": "wg"})
    assert defaults.concurrency == 20 and defaults.glue_workers == DEFAULT_GLUE_WORKERS
    with pytest.raises(RuntimeError, match="GLUE_DATABASE"):
        Settings.from_env({"ATHENA_WORKGROUP": "wg"})
