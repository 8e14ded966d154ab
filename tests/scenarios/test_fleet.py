"""The fleet state machine: the real ASL from statemachine/, each cluster one real export execution."""

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


def test_the_sample_fleet_exports_each_cluster_once_and_names_each_in_one_summary() -> None:
    with account() as emulated:
        result = emulated.run_fleet(_fleet_input())
        children = _child_executions(emulated)
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
    # Each cluster's execution sent its own notification too.
    assert len(result.notifications) == 3
    assert result.states == ["ValidateFleetInput", "ExportEachAccount", "ExportEachCluster", "ExportCluster", "ExportCluster",
                             "NotifyFleetSummary", "DidEveryClusterExport", "FleetSucceeded"]


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
    assert result.status == "FAILED" and result.error == "InvalidInput"
    cause = result.cause or ""
    for expected in ("cluster_identifiers[1]: duplicates cluster_identifiers[0]", "cluster_identifiers[2]: may contain only",
                     "export_only: is not taken by a fleet run", "use_latest_automated_snapshot: must be a JSON boolean",
                     "clusterIdentifiers: unknown key"):
        assert expected in cause, (expected, cause)
    assert children == [] and rds_calls == [] and result.export_tasks == []
    assert result.states[-2:] == ["NotifyFleetInputInvalid", "FleetInputFailed"]
    [notification] = result.notifications
    assert "duplicates cluster_identifiers[0]" in notification["message"]


def test_a_fleet_input_that_is_not_an_object_is_refused_and_notified() -> None:
    with account() as emulated:
        result = emulated.run_fleet(["demo-aurora-cluster"])
    assert result.status == "FAILED" and result.error == "InvalidInput"
    assert "must be a JSON object with cluster_identifiers, got array" in (result.cause or "")
    assert len(result.notifications) == 1


def test_the_schedule_can_start_the_fleet_over_every_allowed_cluster() -> None:
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
    assert json.loads(execution_input) == {"cluster_identifiers": list(ALLOWED), "use_latest_automated_snapshot": True}
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert sorted(_cluster_of(task["source_arn"]) for task in result.export_tasks) == sorted(ALLOWED)
    assert result.snapshots_created == []


def test_the_scheduled_fleet_takes_the_allowed_db_instances_too() -> None:
    from emulated_account.template import Template

    parameters = {"EnableSchedule": "true", "ScheduleTarget": "fleet", "AllowedClusterIdentifiers": "demo-aurora-cluster",
                  "AllowedDBInstanceIdentifiers": "demo-postgres-db,demo-mariadb-db"}
    template = Template(Path(__file__).resolve().parents[2] / "template.yaml", parameters=parameters)
    schedule = template.resolve(template.resources["ExportSchedule"]["Properties"])
    assert json.loads(schedule["Target"]["Input"]) == {
        "cluster_identifiers": ["demo-aurora-cluster"], "db_instance_identifiers": ["demo-postgres-db", "demo-mariadb-db"]}
