"""RDS snapshot/export and Athena behaviour of the emulated account, through boto3 as handlers see it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from emulated_account import EmulatedAccount, ExportBehaviour
from emulated_account.parquet import read_parquet
from emulated_account.rds_sim import EXPORT_QUOTA_ERROR_CODE, MAX_RUNNING_EXPORTS


def _export_setup(account: EmulatedAccount) -> dict[str, str]:
    iam = account.client("iam")
    role = iam.create_role(RoleName="export-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return {"S3BucketName": account.ref("Bucket"), "IamRoleArn": role, "KmsKeyId": account.template.get_att("Key", "Arn")}


def _snapshot(account: EmulatedAccount, name: str, cluster: str = "demo-aurora-cluster") -> str:
    rds = boto3.client("rds")
    arn = rds.create_db_cluster_snapshot(DBClusterIdentifier=cluster, DBClusterSnapshotIdentifier=name)["DBClusterSnapshot"]["DBClusterSnapshotArn"]
    account.clock.advance(180)
    return arn


def _error(call: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["Error"]["Code"]


def test_snapshot_is_creating_until_its_duration_has_passed(fixture_template: Path) -> None:
    with EmulatedAccount(fixture_template, snapshot_seconds=300) as account:
        rds = boto3.client("rds")
        created = rds.create_db_cluster_snapshot(DBClusterIdentifier="demo-aurora-cluster", DBClusterSnapshotIdentifier="s1")["DBClusterSnapshot"]
        assert (created["Status"], created["PercentProgress"]) == ("creating", 0)
        account.clock.advance(150)
        described = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="s1")["DBClusterSnapshots"][0]
        assert (described["Status"], described["PercentProgress"]) == ("creating", 50)
        account.clock.advance(150)
        assert rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="s1")["DBClusterSnapshots"][0]["Status"] == "available"
        assert account.rds.snapshots_created == ["s1"]


def test_export_moves_with_time_and_writes_the_layout_on_completion(fixture_template: Path) -> None:
    with EmulatedAccount(fixture_template, export=ExportBehaviour(duration_seconds=1000)) as account:
        setup = _export_setup(account)
        arn = _snapshot(account, "s1")
        rds, s3 = boto3.client("rds"), boto3.client("s3")
        task = rds.start_export_task(ExportTaskIdentifier="exp-1", SourceArn=arn, S3Prefix="lake/", ExportOnly=["mydb.public.users", "mydb.public.Ledger_Entries"], **setup)
        assert (task["Status"], task["PercentProgress"]) == ("STARTING", 0)
        seen = []
        for _ in range(10):
            account.clock.advance(100)
            current = rds.describe_export_tasks(ExportTaskIdentifier="exp-1")["ExportTasks"][0]
            seen.append((current["Status"], current["PercentProgress"]))
        assert seen[0] == ("STARTING", 0)  # 100 s of 1000
        assert seen[1] == ("IN_PROGRESS", 0)  # 200 s: past the first fifth
        assert seen[6] == ("IN_PROGRESS", 90)  # 700 s
        assert seen[-1] == ("COMPLETE", 100)
        # Lower-case status filters, as the API documents them.
        assert [t["ExportTaskIdentifier"] for t in rds.describe_export_tasks(Filters=[{"Name": "status", "Values": ["complete"]}])["ExportTasks"]] == ["exp-1"]
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=setup["S3BucketName"])["Contents"]]
        tables = sorted({k.split("/")[3] for k in keys if k.endswith(".gz.parquet")})
        assert tables == ["public.Ledger_Entries", "public.users"]
        assert "lake/exp-1/export_info_exp-1.json" in keys
        info = json.loads(s3.get_object(Bucket=setup["S3BucketName"], Key="lake/exp-1/export_tables_info_exp-1_from_1_to_2.json")["Body"].read())
        assert {e["target"] for e in info["perTableStatus"]} == {"mydb.public.users", "mydb.public.Ledger_Entries"}
        part = next(k for k in keys if "public.users/1/part-00000-" in k)
        table = read_parquet(s3.get_object(Bucket=setup["S3BucketName"], Key=part)["Body"].read()).table
        assert table.num_rows == 25


@pytest.mark.parametrize("outcome,status", [("failed", "FAILED"), ("canceled", "CANCELED")])
def test_failed_and_canceled_exports_write_no_data(fixture_template: Path, outcome: str, status: str) -> None:
    with EmulatedAccount(fixture_template, export=ExportBehaviour(duration_seconds=600, outcome=outcome, failure_cause="KMS key check failed")) as account:
        setup = _export_setup(account)
        arn = _snapshot(account, "s1")
        rds = boto3.client("rds")
        rds.start_export_task(ExportTaskIdentifier="exp-1", SourceArn=arn, **setup)
        account.clock.advance(600)
        task = rds.describe_export_tasks(ExportTaskIdentifier="exp-1")["ExportTasks"][0]
        assert task["Status"] == status
        assert task.get("FailureCause") == ("KMS key check failed" if outcome == "failed" else None)
        assert boto3.client("s3").list_objects_v2(Bucket=setup["S3BucketName"]).get("KeyCount") == 0


def test_complete_with_skipped_tables_reports_a_warning(fixture_template: Path) -> None:
    behaviour = ExportBehaviour(duration_seconds=60, skipped_tables=["mydb.public.bad table"])
    with EmulatedAccount(fixture_template, export=behaviour) as account:
        setup = _export_setup(account)
        arn = _snapshot(account, "s1")
        rds = boto3.client("rds")
        rds.start_export_task(ExportTaskIdentifier="exp-1", SourceArn=arn, **setup)
        account.clock.advance(60)
        task = rds.describe_export_tasks(ExportTaskIdentifier="exp-1")["ExportTasks"][0]
        assert task["Status"] == "COMPLETE"
        assert json.loads(task["WarningMessage"])["skippedTables"] == ["mydb.public.bad table"]


def test_export_rules_duplicate_id_busy_snapshot_and_quota(fixture_template: Path) -> None:
    with EmulatedAccount(fixture_template) as account:
        setup = _export_setup(account)
        rds = boto3.client("rds")
        arns = [_snapshot(account, f"s{i}") for i in range(MAX_RUNNING_EXPORTS + 1)]
        rds.start_export_task(ExportTaskIdentifier="exp-0", SourceArn=arns[0], **setup)
        assert _error(lambda: rds.start_export_task(ExportTaskIdentifier="exp-0", SourceArn=arns[1], **setup)) == "ExportTaskAlreadyExists"
        assert _error(lambda: rds.start_export_task(ExportTaskIdentifier="again", SourceArn=arns[0], **setup)) == "InvalidExportSourceState"
        for i in range(1, MAX_RUNNING_EXPORTS):
            rds.start_export_task(ExportTaskIdentifier=f"exp-{i}", SourceArn=arns[i], **setup)
        last = arns[MAX_RUNNING_EXPORTS]
        with pytest.raises(ClientError) as quota:
            rds.start_export_task(ExportTaskIdentifier="one-too-many", SourceArn=last, **setup)
        # The code and message public code handling real exports quotes (FIDELITY.md); the model has no shape for it.
        assert quota.value.response["Error"]["Code"] == EXPORT_QUOTA_ERROR_CODE == "ExportTaskLimitReachedFault"
        assert quota.value.response["Error"]["Message"] == "You have reached the limit of 5 concurrent export tasks"
        assert "An error occurred (ExportTaskLimitReachedFault) when calling the StartExportTask operation" in str(quota.value)
        account.clock.advance(900)  # every export completes: room again
        rds.start_export_task(ExportTaskIdentifier="one-too-many", SourceArn=last, **setup)
        assert _error(lambda: rds.start_export_task(ExportTaskIdentifier="bad--id", SourceArn=last, **setup)) == "InvalidParameterValue"
        assert _error(lambda: rds.start_export_task(ExportTaskIdentifier="x1", SourceArn=last, ExportOnly=["a.b.c.d"], **setup)) == "InvalidExportOnly"
        missing = last.replace(":s5", ":nope")
        assert _error(lambda: rds.start_export_task(ExportTaskIdentifier="x2", SourceArn=missing, **setup)) == "DBClusterSnapshotNotFoundFault"


@pytest.mark.slow
def test_synthetic_five_thousand_table_export_is_fast(fixture_template: Path) -> None:
    with EmulatedAccount(fixture_template, export=ExportBehaviour(duration_seconds=60, synthetic_tables=5000)) as account:
        setup = _export_setup(account)
        arn = _snapshot(account, "s1")
        rds = boto3.client("rds")
        rds.start_export_task(ExportTaskIdentifier="big", SourceArn=arn, **setup)
        # CPU seconds of this process: the work is the simulator's, and the machine's other
        # processes (a loaded CI host, parallel test workers) do not count against it.
        started = time.process_time()
        account.clock.advance(60)
        assert rds.describe_export_tasks(ExportTaskIdentifier="big")["ExportTasks"][0]["Status"] == "COMPLETE"
        elapsed = time.process_time() - started
        s3 = boto3.client("s3")
        info_files = s3.list_objects_v2(Bucket=setup["S3BucketName"], Prefix="big/export_tables_info_")["KeyCount"]
    assert info_files == 50
    assert elapsed < 5  # about 1.7 s here


def test_athena_queries_take_their_latency_and_share_the_ddl_limit(fixture_template: Path) -> None:
    with EmulatedAccount(fixture_template, athena_ddl_latency=1.5, athena_ddl_concurrency=2) as account:
        athena = boto3.client("athena")
        ids = [athena.start_query_execution(QueryString=f"CREATE EXTERNAL TABLE t{i} (a int) LOCATION 's3://b/t{i}/'", QueryExecutionContext={"Database": "db"})["QueryExecutionId"] for i in range(2)]
        assert _error(lambda: athena.start_query_execution(QueryString="CREATE EXTERNAL TABLE t3 (a int)")) == "TooManyRequestsException"
        assert athena.get_query_execution(QueryExecutionId=ids[0])["QueryExecution"]["Status"]["State"] == "RUNNING"
        account.clock.advance(1.5)
        assert athena.get_query_execution(QueryExecutionId=ids[0])["QueryExecution"]["Status"]["State"] == "SUCCEEDED"
        athena.start_query_execution(QueryString="CREATE EXTERNAL TABLE t3 (a int)", QueryExecutionContext={"Database": "db"})
        again = athena.start_query_execution(QueryString="CREATE EXTERNAL TABLE t0 (a int)", QueryExecutionContext={"Database": "db"})["QueryExecutionId"]
        account.clock.advance(1.5)
        failed = athena.get_query_execution(QueryExecutionId=again)["QueryExecution"]["Status"]
        assert failed["State"] == "FAILED" and "AlreadyExistsException" in failed["StateChangeReason"]
        assert account.athena.query_strings[0].startswith("CREATE EXTERNAL TABLE t0")
        assert len(account.athena.query_strings) == 4  # the refused query never started
