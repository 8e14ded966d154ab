"""The workflow end to end: the real ASL from statemachine/, wired as template.yaml wires it."""

from __future__ import annotations

import json
from pathlib import Path

from emulated_account import ExportBehaviour, data

from .conftest import account, manual_snapshots, polls

EVENTS = Path(__file__).resolve().parents[2] / "events"


def test_new_snapshot_is_taken_exported_made_queryable_and_cleaned_up() -> None:
    with account(snapshot_seconds=300, export=ExportBehaviour(duration_seconds=1800)) as emulated:
        result = emulated.run({"cluster_identifier": "demo-aurora-cluster"})
        remaining_snapshots = manual_snapshots(emulated)
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
    creates = [query for query in result.athena_queries if query.startswith("CREATE EXTERNAL TABLE")]
    assert creates, result.athena_queries
    assert all("STORED AS PARQUET" in query for query in creates)
    assert any("\n  id bigint" in query for query in creates)
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
        tables = {t["Parameters"]["aurora_lake.source_table"]: t["StorageDescriptor"]["Location"]
                  for t in glue.get_tables(DatabaseName=database)["TableList"]}
        listing = {location: [o["Key"] for o in s3.list_objects_v2(Bucket=emulated.bucket,
                                                                   Prefix=location.split("/", 3)[3]).get("Contents", [])]
                   for location in tables.values()}
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert tables["mydb.public.Order Notes"].endswith("/mydb/public.Order_Notes/")
    assert tables["mydb.public.Ledger_Entries"].endswith("/mydb/public.Ledger_Entries/")
    # Every LOCATION holds data files (the older layout: directly in the folder) and markers beside them.
    assert all(any(key.endswith(".parquet") for key in keys) for keys in listing.values()), listing
    assert any(key.endswith("/public.Ledger_Entries/_SUCCESS") for key in listing[tables["mydb.public.Ledger_Entries"]])
    assert any(key.rsplit("/", 2)[-2] == "public.Ledger_Entries" and key.endswith(".parquet")
               for key in listing[tables["mydb.public.Ledger_Entries"]])
    assert set(tables) == {table.target for table in data.POSTGRES_TABLES}  # none missing, none over an empty folder
