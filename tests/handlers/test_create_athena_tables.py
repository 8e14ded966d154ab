"""CreateAthenaTables handler against moto's S3, Glue and Athena, invoked in a loop as the state machine does.

Every exported table becomes an Apache Iceberg table (PyIceberg against moto's S3 and Glue, with
the emulated Glue's VersionId check); the export's files are real Parquet as the emulated export
writes them. Athena is the emulated account's simulator: its SELECTs (the canary) are answered
from the lake through PyIceberg.
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
from aurora_lake.catalog import iceberg
from aurora_lake.catalog.iceberg_io import Boto3FileIO
from aurora_lake.catalog.runner import DEFAULT_WORKERS
from aurora_lake.errors import IcebergCanaryFailed, PartialExport, UnmappableColumnType
from emulated_account import athena_sim, glue_sim, lake_query
from emulated_account.clock import VirtualClock
from emulated_account.data import Column
from emulated_account.export_writer import parquet_bytes
from .conftest import ACCOUNT, REGION, load_handler

BUCKET = "aurora-lake-export-bucket"
DATABASE = "aurora_lake"
WORKGROUP = "aurora-lake"
CLUSTER = "demo-aurora-cluster"
SNAPSHOT_TIME = "2026-11-02T03:00:00.000Z"

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
        with athena_sim.installed(simulator), glue_sim.installed():
            if "batch_get_query_execution" in vars(AthenaResponse):  # the simulator serves it itself
                yield Lake(virtual, simulator)
            else:
                with mock.patch.object(AthenaResponse, "batch_get_query_execution", batch_get_query_execution, create=True):
                    yield Lake(virtual, simulator)
    finally:
        clock.use_real_time()


@pytest.fixture
def lake(aws: None, environment: Any) -> Iterator[Lake]:
    environment(EXPORT_BUCKET=BUCKET, GLUE_DATABASE=DATABASE, ATHENA_WORKGROUP=WORKGROUP, FAIL_ON_PARTIAL_EXPORT="false")
    yield from make_lake()


def executions() -> list[Any]:
    return list(athena_backends[ACCOUNT][REGION].executions.values())


def glue_table(name: str) -> dict[str, Any]:
    return boto3.client("glue").get_table(DatabaseName=DATABASE, Name=name)["Table"]


def glue_tables() -> dict[str, Any]:
    return glue_backends[ACCOUNT][REGION].databases[DATABASE].tables


def latest_tables() -> set[str]:
    """The source tables' tables in Glue (not the drift log, nor archived or 2.x versioned ones)."""
    return {name for name in glue_tables() if not name.startswith("_") and name != "aurora_lake_drift_log"}


def metadata(name: str) -> Any:
    found = iceberg.read_glue_table(boto3.client("glue"), DATABASE, name)
    assert found is not None and found.is_iceberg, name
    return iceberg.load_metadata(Boto3FileIO(), found.metadata_location)


def exports_of_table(name: str) -> list[str | None]:
    """The exports a table's snapshots hold, oldest source time first."""
    return [iceberg.export_of(s) for s in iceberg.ordered_snapshots(metadata(name))]


def data_file_paths(name: str) -> list[str]:
    """The data files of the table's current snapshot, from its manifests."""
    io = Boto3FileIO()
    return sorted(entry.data_file.file_path for manifest in metadata(name).current_snapshot().manifests(io)
                  for entry in manifest.fetch_manifest_entry(io))


def query(sql: str) -> list[list[Any]]:
    return lake_query.run_query(sql, boto3.client("glue"), boto3.client("s3"), DATABASE).rows


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


def _columns_of(entry: dict[str, Any]) -> list[Column]:
    mappings = (entry.get("schemaMetadata") or {}).get("originalTypeMappings") or []
    return [Column(m["columnName"], m.get("originalType") or "", m["expectedExportedType"]) for m in mappings]


def write_export(export_id: str, files: list[list[dict[str, Any]]], prefix: str = "exports/",
                 without_data: frozenset[str] = frozenset(), markers: bool = True, rows: int = 7,
                 file_columns: dict[str, list[Column]] | None = None, body: bytes | None = None) -> None:
    """The metadata files, a Parquet part file (and _SUCCESS markers) for every COMPLETE table not in ``without_data``.

    Each part file is real Parquet holding ``rows`` rows of the entry's columns (``file_columns``:
    other columns for a table, as a file that disagrees with the metadata; ``body``: these bytes).
    """
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
            columns_ = (file_columns or {}).get(entry["target"]) or _columns_of(entry)
            data = body if body is not None else parquet_bytes(columns_, range(rows))
            bucket.put_object(BUCKET, f"{folder}1/part-00000-0b7e2c1d.gz.parquet", data)
            if markers:
                bucket.put_object(BUCKET, f"{folder}1/_SUCCESS", b"")
    start = 1
    for entries in files:
        end = start + len(entries) - 1
        s3.put_object(Bucket=BUCKET, Key=f"{root}export_tables_info_{export_id}_from_{start}_to_{end}.json",
                      Body=json.dumps({"perTableStatus": entries}).encode())
        start = end + 1


def state(export_id: str, warning: str | None = None, snapshot_time: str = SNAPSHOT_TIME, **job: Any) -> dict[str, Any]:
    return {
        "job": {"cluster_identifier": CLUSTER, "execution_name": "run-1", "account": ACCOUNT, **job},
        "snapshot": {"status": "available"},
        "export": {"export_task_identifier": export_id, "s3_bucket": BUCKET, "s3_prefix": "exports/",
                   "status": "COMPLETE", "warning_message": warning, "total_extracted_gb": 1.5,
                   "snapshot_time": snapshot_time, "task_start_time": snapshot_time},
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


LEDGER_LATEST = "demo_aurora_cluster__mydb__public__ledger_entries"
USERS_LATEST = "demo_aurora_cluster__mydb__public__users"


def test_each_exported_table_becomes_an_iceberg_table_stamped_with_the_source_snapshot_time(lake: Lake) -> None:
    write_export("exp-1", [[LEDGER, SKIPPED], [USERS]])
    results = run_until_done(lake, state("exp-1"))

    final = results[-1]
    assert final["done"] is True and final["partial"] is True
    assert final["tables_created"] == 2 and final["tables_skipped"] == 1
    assert final["missing_tables"] == [{"table": "mydb.public.tmp_sessions", "reason": "Temporary tables are not exported"}]
    assert final["sample_table"] == LEDGER_LATEST
    assert final["drift"]["new"]["count"] == 2 and final["drift"]["schema"]["count"] == 0

    # Glue: one Iceberg table per exported table, named as 2.x named its latest table, with its owner.
    assert latest_tables() == {LEDGER_LATEST, USERS_LATEST}
    ledger = glue_table(LEDGER_LATEST)
    parameters = ledger["Parameters"]
    assert parameters["table_type"] == "ICEBERG" and parameters["aurora_lake.table_role"] == "latest"
    assert parameters["metadata_location"].startswith(f"s3://{BUCKET}/iceberg/{DATABASE}/{LEDGER_LATEST}/")
    assert parameters["metadata_location"].endswith(".metadata.json") and "/metadata/00001-" in parameters["metadata_location"]
    assert {k: parameters[k] for k in ("aurora_lake.stack", "aurora_lake.source_account", "aurora_lake.source_table",
                                       "aurora_lake.export_task_identifier")} == {
        "aurora_lake.stack": f"glue:aurora_lake s3:{BUCKET}", "aurora_lake.source_account": ACCOUNT,
        "aurora_lake.source_table": "mydb.public.Ledger_Entries", "aurora_lake.export_task_identifier": "exp-1"}
    assert [(c["Name"], c["Type"], c.get("Comment")) for c in ledger["StorageDescriptor"]["Columns"]] == [
        ("id", "bigint", "bigint"), ("date", "date", "date"), ("amount", "decimal(12,2)", "numeric(12,2)"), ("1st", "string", "text")]
    # No DDL: the tables are written through the Glue API; Athena only runs the canary's SELECTs.
    queries = [e.query for e in executions()]
    assert len(queries) == 2 and all(q.startswith("SELECT count(*) AS row_count") and "FOR VERSION AS OF" in q for q in queries)
    assert final["canary"]["checked"] and all(c["rows"] == 7 for c in final["canary"]["checked"])

    # The snapshot: the export's files registered where RDS wrote them, at the source snapshot's time.
    table = metadata(LEDGER_LATEST)
    (snapshot,) = table.snapshots
    assert snapshot.timestamp_ms == iceberg.from_iso(SNAPSHOT_TIME) and table.last_updated_ms == snapshot.timestamp_ms
    assert iceberg.export_of(snapshot) == "exp-1" and snapshot.summary["total-records"] == "7"
    files = [e.data_file.file_path for m in snapshot.manifests(Boto3FileIO()) for e in m.fetch_manifest_entry(Boto3FileIO())]
    assert files == [f"s3://{BUCKET}/exports/exp-1/mydb/public.Ledger_Entries/1/part-00000-0b7e2c1d.gz.parquet"]
    # Read through the name mapping: the files' "Date" is column "date".
    assert query(f'SELECT count(*), count("date"), count("1st") FROM "{DATABASE}"."{LEDGER_LATEST}"') == [[7, 6, 6]]  # row 5: NULLs

    report = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=final["report_key"])["Body"].read())
    assert final["report_key"] == f"athena-plans/{ACCOUNT}/exp_1/report.json"
    assert report["missing"] == [{"table": "mydb.public.tmp_sessions", "reason": "Temporary tables are not exported"}]
    assert [(t["table"], t["status"]) for t in report["tables"]] == [(LEDGER_LATEST, "created"), (USERS_LATEST, "created")]
    drift = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"drift-log/{ACCOUNT}/exp_1.json")["Body"].read().decode().splitlines()
    assert sorted(json.loads(line)["status"] for line in drift) == ["created", "created", "left_out"]
    ledger_entry = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=f"athena-catalog/{ACCOUNT}/exp_1.json")["Body"].read())
    assert ledger_entry["tables"] == [LEDGER_LATEST, USERS_LATEST]


def test_a_second_export_is_a_second_snapshot_and_time_travel_reads_either(lake: Lake) -> None:
    write_export("exp-1", [[USERS]], rows=10)
    write_export("exp-2", [[{**USERS, "schemaMetadata": columns(("user_id", "int64"), ("email", "binary (UTF8)"))}]], rows=4)
    run_until_done(lake, state("exp-1"))
    first = glue_table(USERS_LATEST)
    final = run_until_done(lake, state("exp-2", snapshot_time="2026-11-03T03:00:00.000Z"))[-1]

    latest = glue_table(USERS_LATEST)
    assert [(c["Name"], c["Type"]) for c in latest["StorageDescriptor"]["Columns"]] == [("user_id", "bigint"), ("email", "string")]
    assert latest["Parameters"]["aurora_lake.export_task_identifier"] == "exp-2"
    # The same Glue table, moved with one UpdateTable at the version read, and no archived version.
    assert latest["CreateTime"] == first["CreateTime"] and latest["VersionId"] != first["VersionId"]
    assert len(boto3.client("glue").get_table_versions(DatabaseName=DATABASE, TableName=USERS_LATEST)["TableVersions"]) == 1
    assert latest["Parameters"]["previous_metadata_location"] == first["Parameters"]["metadata_location"]
    assert [iceberg.export_of(s) for s in iceberg.ordered_snapshots(metadata(USERS_LATEST))] == ["exp-1", "exp-2"]
    table = f'"{DATABASE}"."{USERS_LATEST}"'
    assert query(f"SELECT count(*) FROM {table}") == [[4]]
    assert query(f"SELECT count(*), count(created) FROM {table} FOR TIMESTAMP AS OF TIMESTAMP '2026-11-02 12:00:00 UTC'") == [[10, 9]]
    drift = final["drift"]
    assert drift["new"]["count"] == 0 and drift["schema"]["count"] == 1
    assert drift["schema"]["first"] == ["mydb.public.users (+email -created ~user_id int->bigint)"]
    assert drift["lost_most_rows"]["first"] == ["mydb.public.users (10 -> 4 rows)"]


def test_a_canary_that_reads_nulls_fails_the_step_naming_table_and_column(lake: Lake) -> None:
    write_export("exp-1", [[USERS]])
    lake.athena.name_mapping_supported = False  # an engine that ignores the name mapping: every column NULL
    with pytest.raises(IcebergCanaryFailed) as raised:
        run_until_done(lake, state("exp-1"))
    message = str(raised.value)
    assert f"Athena read table {USERS_LATEST}" in message and "as 7 rows with 0 values in column" in message
    assert "its manifests record 7 rows and 6 values" in message and "does not apply the table's name mapping" in message
    # The table was committed: earlier readers and a fixed engine find it; the run says it cannot be trusted.
    assert latest_tables() == {USERS_LATEST}


def test_the_same_export_run_again_changes_nothing(lake: Lake) -> None:
    write_export("exp-1", [[USERS, LEDGER]])
    run_until_done(lake, state("exp-1"))
    before = {name: glue_table(name)["VersionId"] for name in (USERS_LATEST, LEDGER_LATEST)}
    objects = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="iceberg/")["KeyCount"]
    again = run_until_done(lake, state("exp-1"))[-1]
    assert {name: glue_table(name)["VersionId"] for name in before} == before
    assert boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="iceberg/")["KeyCount"] == objects
    assert again["tables_created"] == 2 and again["drift"]["new"]["count"] == 2  # still each table's first export
    report = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=again["report_key"])["Body"].read())
    assert {t["status"] for t in report["tables"]} == {"unchanged"}


def test_a_table_of_the_same_source_created_meanwhile_is_committed_to(lake: Lake) -> None:
    write_export("exp-1", [[USERS]])
    glue = clients.client("glue")
    real_create = glue.create_table

    def racing_create(**kwargs: Any) -> Any:
        # Another run of the same source created the table first (a Hive table, as 2.x did).
        racing = {**kwargs["TableInput"], "Parameters": {k: v for k, v in kwargs["TableInput"]["Parameters"].items()
                                                         if k.startswith("aurora_lake.")},
                  "StorageDescriptor": {"Location": "s3://elsewhere/", "Columns": []}}
        real_create(**{**kwargs, "TableInput": racing})
        return real_create(**kwargs)  # AlreadyExistsException: the other writer won

    with mock.patch.object(glue, "create_table", racing_create):
        run_until_done(lake, state("exp-1"))
    assert glue_table(USERS_LATEST)["Parameters"]["table_type"] == "ICEBERG"
    assert [iceberg.export_of(s) for s in metadata(USERS_LATEST).snapshots] == ["exp-1"]


def test_a_glue_error_fails_loudly_named_after_its_code(lake: Lake) -> None:
    write_export("exp-1", [[USERS]])
    glue_backends[ACCOUNT][REGION].delete_database(DATABASE)
    with pytest.raises(Exception) as raised:
        run_until_done(lake, state("exp-1"))
    assert type(raised.value).__name__ == "EntityNotFoundException"
    # The plan reads the catalog's owners first: the step fails before any change.
    assert "GetTables" in str(raised.value)
    assert executions() == []
    assert boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix="iceberg/")["KeyCount"] == 0


def test_a_plan_of_the_earlier_release_is_planned_again(lake: Lake) -> None:
    # An execution that was running when this release was deployed holds a 2.x plan (versioned DDL).
    write_export("exp-1", [[USERS]])
    first = handler.lambda_handler(state("exp-1"), LambdaContext(timeout_seconds=0))
    s3 = boto3.client("s3")
    s3.put_object(Bucket=BUCKET, Key=first["plan_key"], Body=json.dumps({
        "version": 2, "export_task_identifier": "exp-1", "glue_database": DATABASE,
        "units": [{"phase": 0, "statements": [f"CREATE EXTERNAL TABLE IF NOT EXISTS `{DATABASE}`.`_{USERS_LATEST}__exp_1` (x int)"]}],
        "latest": []}).encode())
    results = run_until_done(lake, {**state("exp-1"), "athena": {**first, "cursor": 0, "done": False}})
    assert results[-1]["done"] and results[-1]["tables_created"] == 1
    assert not any(e.query.startswith("CREATE") for e in executions())
    assert [iceberg.export_of(s) for s in metadata(USERS_LATEST).snapshots] == ["exp-1"]


def test_a_given_snapshot_names_its_source_cluster(lake: Lake) -> None:
    write_export("exp-1", [[USERS]])
    run_until_done(lake, state("exp-1", cluster_identifier=None, source_cluster_identifier="prod-cluster"))
    assert latest_tables() == {"prod_cluster__mydb__public__users"}


def test_the_snapshot_names_the_cluster_when_the_job_does_not(lake: Lake) -> None:
    write_export("exp-1", [[USERS]])
    event = state("exp-1", cluster_identifier=None)
    event["snapshot"]["source_cluster_identifier"] = "from-snapshot"
    run_until_done(lake, event)
    assert latest_tables() == {"from_snapshot__mydb__public__users"}


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


def test_a_renamed_path_is_read_where_rds_writes_it(lake: Lake) -> None:
    # RDS writes public.Order Notes under public.Order_Notes/ (space -> _); the metadata keeps the name.
    write_export("exp-1", [[ORDER_NOTES]])
    final = run_until_done(lake, state("exp-1"))[-1]
    assert final["partial"] is False and final["tables_created"] == 1
    assert len(metadata(ORDER_NOTES_LATEST).snapshots) == 1
    assert data_file_paths(ORDER_NOTES_LATEST) == [f"s3://{BUCKET}/exports/exp-1/mydb/public.Order_Notes/1/part-00000-0b7e2c1d.gz.parquet"]
    assert [(c["Name"], c["Type"]) for c in glue_table(ORDER_NOTES_LATEST)["StorageDescriptor"]["Columns"]] == [("order_id", "bigint"), ("priority", "int")]
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
    report = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=final["report_key"])["Body"].read())
    assert [entry["table"] for entry in report["missing"]] == ["mydb.public.users"]
    assert [table["source"] for table in report["tables"]] == ["mydb.public.Ledger_Entries"]


def test_a_file_that_disagrees_with_the_metadata_leaves_its_table_out_and_commits_the_rest(lake: Lake) -> None:
    # The metadata says user_id is int32; the file holds text: registered, it would not read as declared.
    wrong = [Column("user_id", "integer", "binary (UTF8)"), Column("created", "timestamp", "int64 (TIMESTAMP_MICRO)")]
    write_export("exp-1", [[USERS, LEDGER]], file_columns={USERS["target"]: wrong})
    final = run_until_done(lake, state("exp-1"))[-1]
    assert final["partial"] is True and final["tables_created"] == 1 and latest_tables() == {LEDGER_LATEST}
    [missing] = final["missing_tables"]
    assert missing["table"] == "mydb.public.users"
    assert "column 'user_id': the file holds string" in missing["reason"] and "the column is int" in missing["reason"]


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
    assert f"s3://{BUCKET}/athena-plans/{ACCOUNT}/exp_1/report.json" in str(raised.value)
    assert executions() == [] and glue_tables() == {}


def test_an_unmappable_type_fails_naming_table_and_column(lake: Lake) -> None:
    bad = {**USERS, "schemaMetadata": columns(("user_id", "int64"), ("flags", "int32 (INT(8,false))"))}
    write_export("exp-1", [[bad]], body=b"PAR1")
    with pytest.raises(UnmappableColumnType, match=r"mydb\.public\.users\.flags: unsigned"):
        handler.lambda_handler(state("exp-1"), LambdaContext())
    assert executions() == [] and glue_tables() == {}


def test_names_colliding_after_lower_casing_leave_those_tables_out_and_catalogue_the_rest(lake: Lake) -> None:
    upper = {**USERS, "target": "mydb.public.Users"}
    dup_columns = {**LEDGER, "schemaMetadata": columns(("ID", "int64"), ("id", "int64"))}
    orders = {**USERS, "target": "mydb.public.orders"}
    for number, listing in enumerate(([USERS, upper, dup_columns, orders], [orders, dup_columns, upper, USERS]), start=1):
        export_id = f"exp-{number}"
        write_export(export_id, [listing])
        final = run_until_done(lake, state(export_id, snapshot_time=f"2026-11-0{number}T03:00:00.000Z"))[-1]
        assert final["partial"] is True and final["tables_created"] == 1
        reasons = {entry["table"]: entry["reason"] for entry in final["missing_tables"]}
        assert set(reasons) == {"mydb.public.users", "mydb.public.Users", "mydb.public.Ledger_Entries"}
        assert "mydb.public.Users would all be named demo_aurora_cluster__mydb__public__users" in reasons["mydb.public.users"]
        assert "mydb.public.users would all be named" in reasons["mydb.public.Users"]
        assert "columns ID and id would all be column id" in reasons["mydb.public.Ledger_Entries"]
        # Whichever order the export lists them in: neither takes the name.
        assert latest_tables() == {"demo_aurora_cluster__mydb__public__orders"}


@pytest.mark.slow
def test_past_the_sources_cap_new_tables_are_left_out_naming_it_and_existing_ones_carry_on(lake: Lake, environment: Any) -> None:
    environment(MAX_TABLES_PER_SOURCE="2")
    tables = [{**USERS, "target": f"mydb.public.t{n}"} for n in range(4)]
    write_export("exp-1", [tables[:1]])
    run_until_done(lake, state("exp-1"))
    write_export("exp-2", [tables[::-1]])
    final = run_until_done(lake, state("exp-2", snapshot_time="2026-11-03T03:00:00.000Z"))[-1]
    assert final["partial"] is True and final["tables_created"] == 2
    # The existing table, and new ones in name order while room is left.
    assert latest_tables() == {"demo_aurora_cluster__mydb__public__t0", "demo_aurora_cluster__mydb__public__t1"}
    reasons = {entry["table"]: entry["reason"] for entry in final["missing_tables"]}
    assert set(reasons) == {"mydb.public.t2", "mydb.public.t3"}
    assert "at most 2 are kept (parameter MaxTablesPerSource)" in reasons["mydb.public.t3"]
    # A source within its cap beside it is unaffected: complete, every table committed.
    write_export("exp-3", [tables[:2]])
    other = run_until_done(lake, state("exp-3", cluster_identifier="other-cluster"))[-1]
    assert other["partial"] is False and other["tables_created"] == 2 and other["missing_tables"] == []
    assert {"other_cluster__mydb__public__t0", "other_cluster__mydb__public__t1"} <= latest_tables() and len(latest_tables()) == 4
    # Another source's tables count apart: over its own cap, only its own new tables are left out.
    write_export("exp-4", [tables])
    third = run_until_done(lake, state("exp-4", cluster_identifier="third-cluster"))[-1]
    assert third["partial"] is True and third["tables_created"] == 2 and len(latest_tables()) == 6
    assert exports_of_table("other_cluster__mydb__public__t0") == ["exp-3"]


@pytest.mark.slow
@pytest.mark.parametrize("tables", [2, 4])
def test_glue_holds_one_table_per_source_table_whatever_the_number_of_exports(lake: Lake, tables: int) -> None:
    # N exports of M tables: M Glue tables (and the drift log's one), no partition, no archived version.
    glue = boto3.client("glue")
    entries = [{**USERS, "target": f"mydb.public.t{n}"} for n in range(tables)]
    counts = []
    for day in range(3):
        write_export(f"exp-{day}", [entries])
        final = run_until_done(lake, state(f"exp-{day}", snapshot_time=f"2026-11-0{day + 2}T03:00:00.000Z"))[-1]
        assert final["tables_created"] == tables
        names = sorted(glue_tables())
        versions = sum(len(glue.get_table_versions(DatabaseName=DATABASE, TableName=name)["TableVersions"]) for name in names)
        partitions = sum(len(glue.get_partitions(DatabaseName=DATABASE, TableName=name)["Partitions"]) for name in names)
        counts.append((len(names), versions, partitions))
    assert counts == [(tables + 1, counts[0][1], 0)] * 3 and counts[0][1] <= tables + 1
    assert all(exports_of_table(f"demo_aurora_cluster__mydb__public__t{n}") == ["exp-0", "exp-1", "exp-2"] for n in range(tables))


# The orchestration at 5,000 tables. One table's commit (PyIceberg against S3 and Glue) is measured
# with real files in tests/unit/catalog/test_iceberg.py and the benchmark (docs/performance.md); here
# it is replaced by a call that takes COMMIT_SECONDS of simulated time and writes nothing, so that
# the step's own work - one plan, batches resumed from a cursor, outcomes in S3 - is what is tested.
# A slow commit (several times what one costs on Lambda) makes 5,000 tables need several invocations.
COMMIT_SECONDS = 1.5


@pytest.mark.slow
def test_five_thousand_tables_stay_small_in_the_state_and_resume_within_each_invocation(lake: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    tables = 5000
    entries = [
        {"target": f"mydb.public.table_{i:04d}", "status": "COMPLETE", "sizeGB": 0.01,
         "schemaMetadata": columns(("id", "int64", "bigint"), ("name", "binary (UTF8)", "text"), ("updated_at", "int64 (TIMESTAMP_MICRO)", "timestamp"))}
        for i in range(tables)
    ]
    # No markers here: moto renders each listing page slowly, and markers triple the keys.
    write_export("exp-big", [entries[i:i + 250] for i in range(0, tables, 250)], markers=False, body=b"PAR1")
    committed: list[str] = []

    def commit(self: Any, target: iceberg.Target, export: iceberg.TableExport, **_: Any) -> iceberg.Outcome:
        clock.sleep(COMMIT_SECONDS / DEFAULT_WORKERS)  # the step's workers commit side by side
        committed.append(target.name)
        return iceberg.Outcome(table=target.name, status="created", snapshot_id=1, source_time_ms=export.source_time_ms, rows=3)

    full_listings: list[dict[str, Any]] = []
    clients.client("s3").meta.events.register(
        "before-call.s3.ListObjectsV2",
        lambda params, **_: None if params["query_string"].get("delimiter") else full_listings.append(params["query_string"]))
    with mock.patch.object(iceberg.Committer, "commit_export", commit):
        results = run_until_done(lake, state("exp-big"))

    sizes = [len(json.dumps(result).encode()) for result in results]
    with capsys.disabled():
        print(f"\n5,000 tables: {len(results)} invocations, largest $.athena result {max(sizes)} bytes")
    assert sorted(set(committed)) == sorted(f"demo_aurora_cluster__mydb__public__table_{i:04d}" for i in range(tables))
    # Each invocation stops before its budget: 900 s less the reserve; the next resumes at its cursor.
    assert len(results) >= 2 and len(committed) <= tables + DEFAULT_WORKERS * len(results)
    assert results[-1]["tables_created"] == tables and not results[-1]["partial"]
    assert max(sizes) < 10 * 1024
    # The files were found with one paginated listing of the export (5,021 keys), not a call per table.
    export_listings = [p for p in full_listings if p["prefix"] == "exports/exp-big/"]
    assert len(export_listings) == 6 and sum("continuation-token" not in p for p in export_listings) == 1
    plan = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=results[0]["plan_key"])["Body"].read())
    assert len(plan["tables"]) == tables


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
                                  "MAX_TABLES_PER_SOURCE": "7", "FAIL_ON_PARTIAL_EXPORT": "TRUE", "EXPORT_EXPIRATION_DAYS": "30"})
    assert settings == Settings(glue_database="lake", workgroup="wg", plan_bucket="b", fail_on_partial=True,
                                max_tables_per_source=7, export_expiration_days=30)
    defaults = Settings.from_env({"GLUE_DATABASE": "lake", "ATHENA_WORKGROUP": "wg"})
    assert defaults.max_tables_per_source == 5000 and defaults.glue_workers == DEFAULT_WORKERS
    with pytest.raises(RuntimeError, match="GLUE_DATABASE"):
        Settings.from_env({"ATHENA_WORKGROUP": "wg"})
    with pytest.raises(RuntimeError, match="MAX_TABLES_PER_SOURCE"):
        Settings.from_env({"GLUE_DATABASE": "lake", "ATHENA_WORKGROUP": "wg", "MAX_TABLES_PER_SOURCE": "0"})
