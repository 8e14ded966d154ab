"""The workflow end to end: the real ASL from statemachine/, wired as template.yaml wires it."""

from __future__ import annotations

import json
from pathlib import Path

from emulated_account import ExportBehaviour, data, lake_query

from .conftest import account, manual_snapshots, polls

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_new_snapshot_is_taken_exported_made_queryable_and_cleaned_up() -> None:
    with account(snapshot_seconds=300, export=ExportBehaviour(duration_seconds=1800)) as emulated:
        result = emulated.run({"cluster_identifier": "demo-aurora-cluster"})
        remaining_snapshots = manual_snapshots(emulated)
        users = emulated.client("glue").get_table(DatabaseName=emulated.ref("GlueDatabase"), Name="demo_aurora_cluster__mydb__public__users")["Table"]
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert polls(result, "CheckSnapshot") >= 2
    assert polls(result, "CheckExport") >= 3
    assert len(result.snapshots_created) == 1
    [export] = result.export_tasks
    assert export["status"] == "COMPLETE"
    assert export["source_arn"].endswith(f":cluster-snapshot:{result.snapshots_created[0]}")
    # The snapshot the run created is gone; the account's older manual snapshots stay.
    assert result.snapshots_created[0] not in remaining_snapshots
    assert "demo-aurora-cluster-manual-2026-11-01" in remaining_snapshots
    # Each table is an Iceberg table (no DDL); Athena's only queries are the canary's counts at the new snapshot.
    assert users["Parameters"]["table_type"] == "ICEBERG" and users["Parameters"]["aurora_lake.export_task_identifier"] == export["id"]
    assert {"Name": "id", "Type": "bigint"}.items() <= users["StorageDescriptor"]["Columns"][0].items()
    assert result.athena_queries and all(query.startswith("SELECT count(*)") and " FOR VERSION AS OF " in query
                                         for query in result.athena_queries), result.athena_queries
    [notification] = result.notifications
    assert notification["subject"].startswith("[aurora-lake] SUCCEEDED demo-aurora-cluster")
    assert f"{export['id']}/" in notification["message"]
    assert "SELECT * FROM" in notification["message"]
    assert result.states[-1] == "NotifySuccess"


def test_existing_automated_snapshot_is_exported_and_never_deleted() -> None:
    given = json.loads((EVENTS / "existing-snapshot.json").read_text())
    with account() as emulated:
        before = emulated.client("rds").describe_db_cluster_snapshots(SnapshotType="automated")["DBClusterSnapshots"]
        result = emulated.run(given)
        after = emulated.client("rds").describe_db_cluster_snapshots(SnapshotType="automated")["DBClusterSnapshots"]
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.snapshots_created == []
    assert "CreateSnapshot" not in result.states
    [export] = result.export_tasks
    assert export["source_arn"] == given["snapshot_arn"]
    assert export["s3_prefix"].rstrip("/") == "exports/from_automated_snapshot"
    assert len(after) == len(before)


def test_latest_automated_snapshot_mode_exports_the_newest_one() -> None:
    given = json.loads((EVENTS / "latest-automated-snapshot.json").read_text())
    with account() as emulated:
        result = emulated.run(given)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.snapshots_created == []
    [export] = result.export_tasks
    assert export["source_arn"].endswith(":cluster-snapshot:rds:demo-aurora-cluster-2026-11-01-03-10")


def test_failed_export_ends_failed_with_its_cause_after_a_notification() -> None:
    behaviour = ExportBehaviour(outcome="failed", failure_cause="KMS key check failed")
    with account(export=behaviour) as emulated:
        result = emulated.run({"cluster_identifier": "demo-aurora-cluster"})
        remaining_snapshots = manual_snapshots(emulated)
    assert result.status == "FAILED"
    assert result.error == "ExportFailed"
    assert "KMS key check failed" in (result.cause or "")
    [notification] = result.notifications
    assert "KMS key check failed" in notification["message"]
    assert "Failed step:  CheckExport" in notification["message"]
    assert result.states[-3:] == ["CleanUpAfterFailure", "NotifyFailure", "ExportWorkflowFailed"]
    # The export has ended, so the snapshot this run took is not left behind.
    assert result.snapshots_created[0] not in remaining_snapshots
    assert result.athena_queries == []


def test_canceled_export_ends_failed_as_canceled() -> None:
    with account(export=ExportBehaviour(outcome="canceled")) as emulated:
        result = emulated.run({"cluster_identifier": "demo-aurora-cluster"})
    assert result.status == "FAILED"
    assert result.error == "ExportCanceled"
    [notification] = result.notifications
    assert "ExportCanceled" in notification["message"]


def test_transient_error_is_retried_and_the_run_succeeds_with_one_snapshot_and_export() -> None:
    with account(faults=["rds:CreateDBClusterSnapshot:Throttling:2", "rds:StartExportTask:ThrottlingException:2"]) as emulated:
        result = emulated.run({"cluster_identifier": "demo-aurora-cluster"})
        used = [fault.used for fault in emulated.fault_plan.faults]
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert used == [2, 2]
    assert len(result.snapshots_created) == 1
    assert len(result.export_tasks) == 1
    # Each retry is a billed transition: 2 + 2 more than the states entered.
    assert result.state_transitions == len(result.states) + 4


def test_permanent_error_is_caught_notified_and_named() -> None:
    with account(faults=["rds:StartExportTask:KMSKeyNotAccessibleFault:1"]) as emulated:
        result = emulated.run({"cluster_identifier": "demo-aurora-cluster"})
        remaining_snapshots = manual_snapshots(emulated)
    assert result.status == "FAILED"
    assert result.error == "KMSKeyNotAccessibleFault"
    assert "KMSKeyNotAccessible" in (result.cause or "")
    [notification] = result.notifications
    assert "KMSKeyNotAccessible" in notification["message"]
    assert "key policy" in notification["message"]
    assert result.export_tasks == []
    assert result.snapshots_created[0] not in remaining_snapshots


def test_bad_input_fails_before_anything_is_created() -> None:
    given = json.loads((EVENTS / "invalid-input.json").read_text())
    with account() as emulated:
        result = emulated.run(given)
        rds_calls = [call for call in emulated.calls.calls if call.service == "rds"]
    assert result.status == "FAILED"
    assert result.error == "InvalidInput"
    assert "export_onyl" in (result.cause or "") and "cluster_identifier" in (result.cause or "")
    assert result.snapshots_created == [] and result.export_tasks == []
    assert rds_calls == []
    [notification] = result.notifications
    assert "export_onyl" in notification["message"]


def test_cluster_outside_the_allowed_list_is_refused() -> None:
    with account() as emulated:
        result = emulated.run(json.loads((EVENTS / "forbidden-cluster.json").read_text()))
    assert result.status == "FAILED"
    assert result.error == "ClusterNotAllowed"
    assert result.snapshots_created == [] and result.export_tasks == []
    assert len(result.notifications) == 1


def test_long_export_runs_in_seconds_of_real_time() -> None:
    with account(export=ExportBehaviour(duration_seconds=21600)) as emulated:
        result = emulated.run({"cluster_identifier": "demo-aurora-cluster"})
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.simulated_seconds >= 21600


def test_every_table_is_located_where_rds_wrote_its_files() -> None:
    """Renamed paths (public.Order Notes -> public.Order_Notes/), the older layout and _SUCCESS markers."""
    with account() as emulated:
        result = emulated.run({"cluster_identifier": "demo-aurora-cluster"})
        glue, s3 = emulated.client("glue"), emulated.client("s3")
        database = emulated.functions["CreateAthenaTablesFunction"].environment["GLUE_DATABASE"]
        tables = {t["Parameters"]["aurora_lake.source_table"]: lake_query.iceberg_data_files(t)
                  for t in glue.get_tables(DatabaseName=database)["TableList"] if "metadata_location" in t["Parameters"]}
        [export] = result.export_tasks
        ledger_folder = f"{export['s3_prefix'].rstrip('/')}/{export['id']}/mydb/public.Ledger_Entries/"
        ledger_listing = [o["Key"] for o in s3.list_objects_v2(Bucket=emulated.bucket, Prefix=ledger_folder)["Contents"]]
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert tables["mydb.public.Order Notes"] and all("/mydb/public.Order_Notes/" in path for path in tables["mydb.public.Order Notes"])
    # Every table's snapshot holds its export's data files only (the older layout: directly in the folder), never a marker.
    assert all(files and all(path.endswith(".parquet") and f"/{export['id']}/" in path for path in files) for files in tables.values()), tables
    assert any(key.endswith("/public.Ledger_Entries/_SUCCESS") for key in ledger_listing)
    assert any(path.rsplit("/", 2)[-2] == "public.Ledger_Entries" for path in tables["mydb.public.Ledger_Entries"])
    assert set(tables) == {table.target for table in data.POSTGRES_TABLES}  # none missing, none over an empty folder
