"""CreateAthenaTables handler against moto's S3 and Athena, invoked in a loop as the state machine does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.athena.models import athena_backends

from aurora_lake import clients, clock
from aurora_lake.errors import AthenaNameCollision, PartialExport, UnmappableColumnType
from .conftest import ACCOUNT, REGION, load_handler

BUCKET = "aurora-lake-export-bucket"
DATABASE = "aurora_lake"
WORKGROUP = "aurora-lake"
CLUSTER = "demo-aurora-cluster"

handler = load_handler("create_athena_tables")


class SimulatedTime:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class LambdaContext:
    function_name = "CreateAthenaTables"
    aws_request_id = "req-1"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:CreateAthenaTables"

    def __init__(self, time: SimulatedTime, timeout_seconds: float = 900.0) -> None:
        self.time, self.ends = time, time.now + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self.ends - self.time.now) * 1000)


@pytest.fixture
def lake(aws: None, environment: Any) -> Iterator[SimulatedTime]:
    environment(EXPORT_BUCKET=BUCKET, GLUE_DATABASE=DATABASE, ATHENA_WORKGROUP=WORKGROUP,
                ATHENA_DDL_CONCURRENCY="20", FAIL_ON_PARTIAL_EXPORT="false")
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    boto3.client("athena").create_work_group(Name=WORKGROUP, Configuration={})
    time = SimulatedTime()
    clock.use_time_source(lambda: time.now, time.sleep)
    yield time
    clock.use_real_time()


def executions() -> list[Any]:
    return list(athena_backends[ACCOUNT][REGION].executions.values())


def columns(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"originalTypeMappings": [
        {"columnName": name, "originalType": original, "expectedExportedType": exported,
         "originalCharMaxLength": 0, "originalNumPrecision": 0, "originalDateTimePrecision": 0}
        for name, exported, original in ((p[0], p[1], p[2] if len(p) > 2 else "") for p in pairs)
    ]}


def write_export(export_id: str, files: list[list[dict[str, Any]]], prefix: str = "exports/") -> None:
    s3 = boto3.client("s3")
    root = f"{prefix}{export_id}/"
    s3.put_object(Bucket=BUCKET, Key=f"{root}export_info_{export_id}.json",
                  Body=json.dumps({"exportTaskIdentifier": export_id, "status": "COMPLETE"}).encode())
    start = 1
    for entries in files:
        end = start + len(entries) - 1
        s3.put_object(Bucket=BUCKET, Key=f"{root}export_tables_info_{export_id}_from_{start}_to_{end}.json",
                      Body=json.dumps({"perTableStatus": entries}).encode())
        start = end + 1


def state(export_id: str, warning: str | None = None, **job: Any) -> dict[str, Any]:
    return {
        "job": {"cluster_identifier": CLUSTER, "execution_name": "run-1", **job},
        "snapshot": {"status": "available"},
        "export": {"export_task_identifier": export_id, "s3_bucket": BUCKET, "s3_prefix": "exports/",
                   "status": "COMPLETE", "warning_message": warning, "total_extracted_gb": 1.5},
    }


def run_until_done(time: SimulatedTime, event: dict[str, Any], max_invocations: int = 50) -> list[dict[str, Any]]:
    results = []
    for _ in range(max_invocations):
        result = handler.lambda_handler(event, LambdaContext(time))
        json.dumps(result)  # the state must be plain JSON
        results.append(result)
        event = {**event, "athena": result}
        if result["done"]:
            return results
        time.sleep(0.2)  # the Choice state and the next Task
    raise AssertionError(f"not done after {max_invocations} invocations")


LEDGER = {"target": "mydb.public.Ledger_Entries", "status": "COMPLETE", "sizeGB": 0.1,
          "schemaMetadata": columns(("id", "int64", "bigint"), ("Date", "int32 (DATE)", "date"),
                                    ("amount", "int64 (DECIMAL(12,2))", "numeric(12,2)"), ("1st", "binary (UTF8)", "text"))}
USERS = {"target": "mydb.public.users", "status": "COMPLETE",
         "schemaMetadata": columns(("user_id", "int32", "integer"), ("created", "int64 (TIMESTAMP_MICRO)", "timestamp"))}
SKIPPED = {"target": "mydb.public.tmp_sessions", "status": "SKIPPED", "warningMessage": "Temporary tables are not exported"}


def test_creates_versioned_then_latest_tables_with_exact_ddl(lake: SimulatedTime) -> None:
    write_export("exp-1", [[LEDGER, SKIPPED], [USERS]])
    results = run_until_done(lake, state("exp-1"))

    final = results[-1]
    assert final["done"] is True and final["partial"] is True
    assert final["tables_created"] == 2 and final["tables_skipped"] == 1
    assert final["missing_tables"] == [{"table": "mydb.public.tmp_sessions", "reason": "Temporary tables are not exported"}]
    assert final["sample_table"] == "demo_aurora_cluster__mydb__public__ledger_entries"
    assert final["statements_succeeded"] == 6

    queries = [e.query for e in executions()]
    assert all(e.workgroup.name == WORKGROUP and e.context == {"Database": DATABASE} for e in executions())
    ledger_ddl = (
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
        "  'aurora_lake.source_table'='mydb.public.Ledger_Entries',\n"
        "  'aurora_lake.export_task_identifier'='exp-1'\n"
        ")"
    )
    latest = "demo_aurora_cluster__mydb__public__ledger_entries"
    users = "demo_aurora_cluster__mydb__public__users"
    # Phase 0: both versioned tables; phase 1: each latest table dropped, then created again.
    assert sorted(queries[:2]) == sorted([ledger_ddl.format(name=latest + "__exp_1"), queries[0] if users in queries[0] else queries[1]])
    assert ledger_ddl.format(name=latest + "__exp_1") in queries[:2]
    users_versioned = next(q for q in queries[:2] if f"`{users}__exp_1`" in q)
    assert "  user_id int COMMENT 'integer',\n  created timestamp COMMENT 'timestamp'\n)" in users_versioned
    assert f"LOCATION 's3://{BUCKET}/exports/exp-1/mydb/public.users/'" in users_versioned
    for name, create in ((latest, ledger_ddl.format(name=latest)), (users, users_versioned.replace(f"`{users}__exp_1`", f"`{users}`"))):
        drop = f"DROP TABLE IF EXISTS `aurora_lake`.`{name}`"
        assert 2 <= queries.index(drop) < queries.index(create)
    assert len(queries) == 6

    report = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=final["report_key"])["Body"].read())
    assert report["missing"] == [{"table": "mydb.public.tmp_sessions", "reason": "Temporary tables are not exported"}]
    assert [t["versioned"] for t in report["tables"]] == [latest + "__exp_1", "demo_aurora_cluster__mydb__public__users__exp_1"]


def test_a_second_export_repoints_latest_and_keeps_the_first_versioned(lake: SimulatedTime) -> None:
    write_export("exp-1", [[USERS]])
    write_export("exp-2", [[{**USERS, "schemaMetadata": columns(("user_id", "int64"), ("email", "binary (UTF8)"))}]])
    run_until_done(lake, state("exp-1"))
    run_until_done(lake, state("exp-2"))
    queries = [e.query for e in executions()]
    latest = "`aurora_lake`.`demo_aurora_cluster__mydb__public__users`"
    latest_creates = [q for q in queries if q.startswith(f"CREATE EXTERNAL TABLE IF NOT EXISTS {latest} (")]
    assert len(latest_creates) == 2
    assert f"s3://{BUCKET}/exports/exp-2/mydb/public.users/" in latest_creates[-1] and "  email string" in latest_creates[-1]
    # The first export's versioned table is never dropped.
    assert not any(q.startswith("DROP") and "__exp_1" in q for q in queries)
    assert queries.index(f"DROP TABLE IF EXISTS {latest}", 3) < queries.index(latest_creates[-1])


def test_a_given_snapshot_names_its_source_cluster(lake: SimulatedTime) -> None:
    write_export("exp-1", [[USERS]])
    run_until_done(lake, state("exp-1", cluster_identifier=None, source_cluster_identifier="prod-cluster"))
    assert any("`prod_cluster__mydb__public__users`" in e.query for e in executions())


def test_the_snapshot_names_the_cluster_when_the_job_does_not(lake: SimulatedTime) -> None:
    write_export("exp-1", [[USERS]])
    event = state("exp-1", cluster_identifier=None)
    event["snapshot"]["source_cluster_identifier"] = "from-snapshot"
    run_until_done(lake, event)
    assert any("`from_snapshot__mydb__public__users`" in e.query for e in executions())


def test_export_warning_makes_the_result_partial(lake: SimulatedTime) -> None:
    write_export("exp-1", [[USERS]])
    warning = json.dumps({"skippedTables": [], "skippedObjectives": [], "general": [{"reason": "FAILED_TO_EXTRACT_TABLES_LIST_FOR_DATABASE"}]})
    final = run_until_done(lake, state("exp-1", warning=warning))[-1]
    assert final["partial"] is True and final["tables_created"] == 1
    report = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=final["report_key"])["Body"].read())
    assert report["missing"] == [{"table": "(export)", "reason": "FAILED_TO_EXTRACT_TABLES_LIST_FOR_DATABASE"}]


def test_partial_export_fails_when_configured_before_any_table_changes(lake: SimulatedTime, environment: Any) -> None:
    environment(FAIL_ON_PARTIAL_EXPORT="true")
    write_export("exp-1", [[USERS, SKIPPED]])
    with pytest.raises(PartialExport) as raised:
        handler.lambda_handler(state("exp-1"), LambdaContext(lake))
    assert "mydb.public.tmp_sessions: Temporary tables are not exported" in str(raised.value)
    assert f"s3://{BUCKET}/athena-plans/exp_1/report.json" in str(raised.value)
    assert executions() == []


def test_an_unmappable_type_fails_naming_table_and_column(lake: SimulatedTime) -> None:
    bad = {**USERS, "schemaMetadata": columns(("user_id", "int64"), ("flags", "int32 (INT(8,false))"))}
    write_export("exp-1", [[bad]])
    with pytest.raises(UnmappableColumnType, match=r"mydb\.public\.users\.flags: unsigned"):
        handler.lambda_handler(state("exp-1"), LambdaContext(lake))
    assert executions() == []


def test_names_colliding_after_lower_casing_are_reported(lake: SimulatedTime) -> None:
    upper = {**USERS, "target": "mydb.public.Users"}
    dup_columns = {**LEDGER, "schemaMetadata": columns(("ID", "int64"), ("id", "int64"))}
    write_export("exp-1", [[USERS, upper, dup_columns]])
    with pytest.raises(AthenaNameCollision) as raised:
        handler.lambda_handler(state("exp-1"), LambdaContext(lake))
    message = str(raised.value)
    assert "mydb.public.Ledger_Entries: columns ID, id are all id" in message
    assert "tables mydb.public.users, mydb.public.Users are all named demo_aurora_cluster__mydb__public__users" in message
    assert executions() == []


def test_five_thousand_tables_in_bounded_invocations_and_small_state(lake: SimulatedTime) -> None:
    tables = 5000
    entries = [
        {"target": f"mydb.public.table_{i:04d}", "status": "COMPLETE", "sizeGB": 0.01,
         "schemaMetadata": columns(("id", "int64", "bigint"), ("name", "binary (UTF8)", "text"), ("updated_at", "int64 (TIMESTAMP_MICRO)", "timestamp"))}
        for i in range(tables)
    ]
    write_export("exp-big", [entries[i:i + 250] for i in range(0, tables, 250)])
    # Each Athena API call costs simulated time, as DDL does on AWS (about 2 s per query, 20 at once).
    clients.client("athena").meta.events.register("before-call.athena", lambda **_: lake.sleep(0.05))
    started = lake.now

    results = run_until_done(lake, state("exp-big"))

    sizes = [len(json.dumps(result).encode()) for result in results]
    simulated = lake.now - started
    print(f"\n5,000 tables: {len(results)} invocations, largest $.athena result {max(sizes)} bytes, "
          f"Athena step {simulated:.0f} simulated seconds")
    assert max(sizes) < 10 * 1024
    assert len(results) <= 8
    queries = [e.query for e in executions()]
    expected = {f"DROP TABLE IF EXISTS `aurora_lake`.`demo_aurora_cluster__mydb__public__table_{i:04d}`" for i in range(tables)}
    assert expected <= set(queries)
    creates = {q.split(" (", 1)[0] for q in queries if q.startswith("CREATE")}
    assert len(creates) == 2 * tables
    # Statements repeated after a deadline stop are bounded by the concurrency.
    assert len(queries) <= 3 * tables + 20 * len(results)
    assert results[-1]["statements_succeeded"] >= 3 * tables


def test_many_missing_tables_keep_the_result_small(lake: SimulatedTime) -> None:
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
    from aurora_lake.athena_tables import Settings

    settings = Settings.from_env({"GLUE_DATABASE": "lake", "ATHENA_WORKGROUP": "wg", "EXPORT_BUCKET": "b",
                                  "ATHENA_DDL_CONCURRENCY": "5", "FAIL_ON_PARTIAL_EXPORT": "TRUE"})
    assert settings == Settings(glue_database="lake", workgroup="wg", plan_bucket="b", concurrency=5, fail_on_partial=True)
    assert Settings.from_env({"GLUE_DATABASE": "lake", "ATHENA_WORKGROUP": "wg"}).concurrency == 20
    with pytest.raises(RuntimeError, match="GLUE_DATABASE"):
        Settings.from_env({"ATHENA_WORKGROUP": "wg"})
