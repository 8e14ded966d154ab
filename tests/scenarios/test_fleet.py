"""The fleet state machine: the real ASL from statemachine/, a Distributed Map over accounts whose
items and results live in S3, each source one real export execution."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from emulated_account import EmulatedAccount, ExportBehaviour, data

from .conftest import account

EVENTS = Path(__file__).resolve().parents[2] / "events"
ALLOWED = ("demo-aurora-cluster", "demo-mysql-cluster")


def _fleet_input(**changes: Any) -> dict[str, Any]:
    return {**json.loads((EVENTS / "fleet.json").read_text()), **changes}


def _cluster_of(source_arn: str) -> str:
    name = source_arn.split(":", 6)[6].removeprefix("rds:")
    return next(cluster for cluster in (*ALLOWED, "forbidden-cluster") if name.startswith(cluster))


def _child_executions(emulated: EmulatedAccount) -> list[dict[str, Any]]:
    return emulated.client("stepfunctions").list_executions(stateMachineArn=emulated.state_machine_arn)["executions"]


def _json_object(emulated: EmulatedAccount, key: str) -> Any:
    return json.loads(emulated.client("s3").get_object(Bucket=emulated.bucket, Key=key)["Body"].read())


def test_the_sample_fleet_exports_each_cluster_once_and_names_each_in_one_summary() -> None:
    with account() as emulated:
        result = emulated.run_fleet(_fleet_input(), name="nightly-1")
        children = _child_executions(emulated)
        items = _json_object(emulated, "fleet-runs/nightly-1/accounts.json")
        manifest = _json_object(emulated, result.output["map_run"]["ResultWriterDetails"]["Key"])
        report = _json_object(emulated, "reports/fleets/nightly-1.json")
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert sorted(_cluster_of(task["source_arn"]) for task in result.export_tasks) == sorted(ALLOWED)
    assert all(task["status"] == "COMPLETE" and task["s3_prefix"].startswith("exports/fleet_runs") for task in result.export_tasks)
    # Each cluster is one execution of the export state machine, named after the cluster.
    assert sorted(child["name"].rsplit("-", 1)[0] for child in children) == sorted(ALLOWED)
    assert all(child["status"] == "SUCCEEDED" for child in children)
    summary = result.notifications[-1]
    assert summary["subject"] == "[aurora-lake] SUCCEEDED fleet of 2: 2 exported"
    for cluster in ALLOWED:
        assert f"SUCCEEDED {cluster}" in summary["message"]
    for tables in (data.POSTGRES_TABLES, data.MYSQL_TABLES):
        assert f"{len(tables)} tables queryable" in summary["message"]
    assert "Report:       s3://" in summary["message"] and "/reports/fleets/nightly-1.json" in summary["message"]
    # Each cluster's execution sent its own notification too.
    assert len(result.notifications) == 3
    # The accounts' steps are child executions of their own: the fleet's history holds none of their states.
    assert result.states == ["ValidateFleetInput", "IsReportOnly", "ExportEachAccount", "NotifyFleetSummary", "DidEverySourceExport", "FleetSucceeded"]
    # Items and results travel through S3, never through the state.
    assert [item["account_id"] for item in items] == [data.ACCOUNT_ID]
    [succeeded] = manifest["ResultFiles"]["SUCCEEDED"]
    assert succeeded["Key"].startswith("fleet-runs/nightly-1/results/") and manifest["ResultFiles"]["FAILED"] == []
    assert result.max_state_payload_bytes < 4_000, result.max_state_payload_bytes
    assert [(o["identifier"], o["status"]) for o in report["outcomes"]] == [(c, "SUCCEEDED") for c in ALLOWED]
    assert report["sources"] == report["exported"] == 2 and report["account_problems"] == []


def test_a_refused_cluster_never_stops_the_others_fails_the_run_and_is_named() -> None:
    given = _fleet_input(cluster_identifiers=["demo-aurora-cluster", "forbidden-cluster", "demo-mysql-cluster"])
    with account() as emulated:
        before = emulated.client("rds").describe_db_cluster_snapshots()["DBClusterSnapshots"]
        result = emulated.run_fleet(given)
        after = emulated.client("rds").describe_db_cluster_snapshots()["DBClusterSnapshots"]
        forbidden_calls = [call for call in emulated.calls.calls if call.service == "rds" and "forbidden" in json.dumps(call.params)]
    assert result.status == "FAILED" and result.error == "FleetExportFailed"
    assert result.cause == "1 of 3 sources did not export: forbidden-cluster (ClusterNotAllowed)"
    assert sorted(_cluster_of(task["source_arn"]) for task in result.export_tasks) == sorted(ALLOWED)
    # Nothing of the refused cluster is created, nor even asked for.
    assert forbidden_calls == [] and len(after) == len(before)
    message = result.notifications[-1]["message"]
    assert "REFUSED   forbidden-cluster" in message and "ClusterNotAllowed" in message
    assert "SUCCEEDED demo-aurora-cluster" in message and "SUCCEEDED demo-mysql-cluster" in message
    assert result.notifications[-1]["subject"] == "[aurora-lake] FAILED fleet of 3: 2 exported, 1 not"


def test_a_cluster_whose_export_fails_is_reported_with_its_error_and_the_other_exports() -> None:
    # The first StartExportTask of the run is refused: one cluster fails, whichever starts first.
    with account(faults=["rds:StartExportTask:KMSKeyNotAccessibleFault:1"]) as emulated:
        result = emulated.run_fleet(_fleet_input())
    assert result.status == "FAILED" and result.error == "FleetExportFailed"
    [exported] = result.export_tasks
    exported_cluster = _cluster_of(exported["source_arn"])
    [failed_cluster] = set(ALLOWED) - {exported_cluster}
    assert result.cause == f"1 of 2 sources did not export: {failed_cluster} (KMSKeyNotAccessibleFault)"
    message = result.notifications[-1]["message"]
    assert f"FAILED    {failed_cluster}" in message and "KMSKeyNotAccessible" in message
    assert f"SUCCEEDED {exported_cluster}" in message


def _export_windows(result: Any) -> list[tuple[float, float]]:
    return sorted((task["started_at"], task["ends_at"]) for task in result.export_tasks)


@pytest.mark.slow
def test_at_most_fleet_max_concurrency_clusters_export_at_once() -> None:
    behaviour = ExportBehaviour(duration_seconds=3600)
    with account(export=behaviour, parameters={"FleetMaxConcurrency": "1"}) as emulated:
        one_at_a_time = emulated.run_fleet(_fleet_input())
    with account(export=behaviour) as emulated:  # the default, 2
        two_at_a_time = emulated.run_fleet(_fleet_input())
    assert one_at_a_time.status == two_at_a_time.status == "SUCCEEDED"
    (_, first_end), (second_start, _) = _export_windows(one_at_a_time)
    assert second_start >= first_end
    (_, first_end), (second_start, _) = _export_windows(two_at_a_time)
    assert second_start < first_end


def test_bad_fleet_inputs_list_every_problem_and_start_nothing() -> None:
    given = {"cluster_identifiers": ["demo-aurora-cluster", "demo-aurora-cluster", "bad_name"], "export_only": ["mydb"],
             "use_latest_automated_snapshot": "yes", "clusterIdentifiers": []}
    with account() as emulated:
        result = emulated.run_fleet(given)
        children = _child_executions(emulated)
        rds_calls = [call for call in emulated.calls.calls if call.service == "rds"]
        planned = emulated.client("s3").list_objects_v2(Bucket=emulated.bucket, Prefix="fleet-runs/")
    assert result.status == "FAILED" and result.error == "InvalidInput"
    cause = result.cause or ""
    for expected in ("cluster_identifiers[1]: duplicates cluster_identifiers[0]", "cluster_identifiers[2]: may contain only",
                     "export_only: is not taken by a fleet run", "use_latest_automated_snapshot: must be a JSON boolean",
                     "clusterIdentifiers: unknown key"):
        assert expected in cause, (expected, cause)
    assert children == [] and rds_calls == [] and result.export_tasks == []
    assert result.states[-2:] == ["NotifyFleetInputInvalid", "FleetInputFailed"]
    # Nothing was planned: no item in S3.
    assert "Contents" not in planned
    [notification] = result.notifications
    assert "duplicates cluster_identifiers[0]" in notification["message"]


def test_a_fleet_input_that_is_not_an_object_is_refused_and_notified() -> None:
    with account() as emulated:
        result = emulated.run_fleet(["demo-aurora-cluster"])
    assert result.status == "FAILED" and result.error == "InvalidInput"
    assert "must be a JSON object with cluster_identifiers, got array" in (result.cause or "")
    assert len(result.notifications) == 1


def test_the_schedule_starts_the_fleet_over_every_source_the_lake_knows() -> None:
    parameters = {"EnableSchedule": "true", "ScheduleTarget": "fleet", "ScheduleSnapshotSource": "latest-automated",
                  "AllowedDBInstanceIdentifiers": ""}
    with EmulatedAccount(parameters=parameters) as emulated:
        assert emulated.template.is_created("ExportSchedule")
        schedule = emulated.template.resolve(emulated.template.resources["ExportSchedule"]["Properties"])
        role = emulated.template.resolve(emulated.template.resources["ScheduleRole"]["Properties"])
        assert schedule["Target"]["Arn"] == emulated.state_machine_arns["FleetStateMachine"]
        assert role["Policies"][0]["PolicyDocument"]["Statement"][0]["Resource"] == schedule["Target"]["Arn"]
        execution_input = schedule["Target"]["Input"]
        result = emulated.run_fleet(json.loads(execution_input))  # the target sends this JSON text
        freshness = _json_object(emulated, "reports/freshness/latest.json")
    assert json.loads(execution_input) == {"scheduled": True, "use_latest_automated_snapshot": True}
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert sorted(_cluster_of(task["source_arn"]) for task in result.export_tasks) == sorted(ALLOWED)
    assert result.snapshots_created == []
    # A scheduled run checks every source's freshness: both just exported.
    assert (freshness["sources_checked"], freshness["stale"]) == (2, [])
    assert "Freshness:    0 of 2 sources stale" in result.notifications[-1]["message"]


def test_the_scheduled_fleet_takes_the_allowed_db_instances_too() -> None:
    parameters = {"EnableSchedule": "true", "ScheduleTarget": "fleet", "AllowedClusterIdentifiers": "demo-aurora-cluster",
                  "AllowedDBInstanceIdentifiers": "demo-postgres-db,demo-mariadb-db", "ScheduleSnapshotSource": "latest-automated"}
    with EmulatedAccount(parameters=parameters) as emulated:
        schedule = emulated.template.resolve(emulated.template.resources["ExportSchedule"]["Properties"])
        result = emulated.run_fleet(json.loads(schedule["Target"]["Input"]), name="nightly-2")
        report = _json_object(emulated, "reports/fleets/nightly-2.json")
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert sorted((o["kind"], o["identifier"]) for o in report["outcomes"]) == [
        ("cluster", "demo-aurora-cluster"), ("instance", "demo-mariadb-db"), ("instance", "demo-postgres-db")]
    assert "DB instance demo-mariadb-db" in result.notifications[-1]["message"]


def _windows_by_account(result: Any) -> dict[str, list[tuple[float, float]]]:
    windows: dict[str, list[tuple[float, float]]] = {}
    for task in result.export_tasks:
        windows.setdefault(task.get("account_id", data.ACCOUNT_ID), []).append((task["started_at"], task["ends_at"]))
    return {account: sorted(spans) for account, spans in windows.items()}


def _most_at_once(spans: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = most = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        running += step
        most = max(most, running)
    return most


def test_each_account_exports_at_most_fleet_max_concurrency_at_once_and_accounts_run_side_by_side() -> None:
    organization = {"OrganizationId": data.ORGANIZATION_ID, "SourceOrganizationalUnitIds": data.WORKLOADS_OU,
                    "FleetMaxConcurrency": "1"}
    given = {**json.loads((EVENTS / "organization.json").read_text()), "cluster_identifiers": list(ALLOWED)}
    with EmulatedAccount(parameters=organization, export=ExportBehaviour(duration_seconds=3600)) as emulated:
        result = emulated.run_fleet(given, timeout=600)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    windows = _windows_by_account(result)
    assert {account: len(spans) for account, spans in windows.items()} == {data.ACCOUNT_ID: 2, "111111111111": 2, "222222222222": 1}
    # Never more than FleetMaxConcurrency (1) at once in an account ...
    assert all(_most_at_once(spans) == 1 for spans in windows.values()), windows
    # ... while the accounts export side by side: all three at once.
    assert _most_at_once([span for spans in windows.values() for span in spans]) == 3, windows
    assert "accounts side by side" in result.notifications[-1]["message"]


def test_fleet_max_accounts_caps_the_accounts_exporting_at_once() -> None:
    organization = {"OrganizationId": data.ORGANIZATION_ID, "SourceOrganizationalUnitIds": data.WORKLOADS_OU,
                    "FleetMaxConcurrency": "5", "FleetMaxAccounts": "1"}
    given = json.loads((EVENTS / "organization.json").read_text())
    with EmulatedAccount(parameters=organization, export=ExportBehaviour(duration_seconds=3600)) as emulated:
        result = emulated.run_fleet(given, timeout=600)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    windows = _windows_by_account(result)
    # One account at a time; within it, its sources together.
    assert _most_at_once(windows["111111111111"]) == 2
    accounts = sorted(windows.values(), key=lambda spans: spans[0][0])
    assert all(later[0][0] >= earlier[-1][1] for earlier, later in zip(accounts, accounts[1:])), windows
    assert "at most 1 accounts at once" in result.notifications[-1]["message"]
