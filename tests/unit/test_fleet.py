"""The fleet's input, its clusters' execution names and its summary."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

_COMMON = str(Path(__file__).resolve().parents[2] / "functions" / "common")
if _COMMON not in sys.path:
    sys.path.insert(0, _COMMON)

from aurora_lake import fleet  # noqa: E402
from aurora_lake.errors import InvalidInput  # noqa: E402


def validate(raw: object, max_concurrency: int = 2) -> dict[str, Any]:
    return fleet.validate_fleet_input(raw, region="us-east-1", account="123456789012", partition="aws",
                                      default_s3_prefix="exports/", execution_name="nightly", max_concurrency=max_concurrency)


def problems(raw: object) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        validate(raw)
    return str(caught.value).splitlines()


def test_each_cluster_gets_the_shared_options_and_a_name_of_its_own() -> None:
    job = validate({"cluster_identifiers": ["Orders", "billing"], "export_cluster_directly": True, "s3_prefix": "exports/fleet_1"})
    assert job["cluster_count"] == 2 and job["max_concurrency"] == 2
    assert [item["input"] for item in job["items"]] == [
        {"cluster_identifier": "orders", "export_cluster_directly": True, "s3_prefix": "exports/fleet_1"},
        {"cluster_identifier": "billing", "export_cluster_directly": True, "s3_prefix": "exports/fleet_1"},
    ]
    names = [item["execution_name"] for item in job["items"]]
    assert names[0].startswith("orders-") and names[1].startswith("billing-") and len(set(names)) == 2
    assert names == [item["execution_name"] for item in validate({"cluster_identifiers": ["orders", "billing"]})["items"]]


def test_every_problem_is_listed() -> None:
    lines = problems({"cluster_identifiers": ["a", "A", 3, "x--y"], "export_only": ["db"], "delete_snapshot_after_export": True,
                      "use_latest_automated_snapshot": True, "extra": 1})
    text = "\n".join(lines)
    assert "cluster_identifiers[1]: duplicates cluster_identifiers[0] ('A')" in text
    assert "cluster_identifiers[2]: must be a string" in text
    assert "cluster_identifiers[3]: must not contain two consecutive hyphens" in text
    assert "export_only: is not taken by a fleet run" in text
    assert "delete_snapshot_after_export: can be true only when the execution takes a new snapshot" in text
    assert "extra: unknown key" in text


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [({}, "give cluster_identifiers"), ({"cluster_identifiers": []}, "at least one cluster"),
     ({"cluster_identifiers": "orders"}, "put even a single one in a list"),
     ({"cluster_identifiers": [f"c{n}" for n in range(21)]}, "at most 20"),
     ([], "must be a JSON object"), (None, "must be a JSON object")],
)
def test_malformed_fleets_are_refused(raw: object, fragment: str) -> None:
    assert any(fragment in line for line in problems(raw)), problems(raw)


def test_twenty_clusters_are_accepted_and_the_concurrency_is_bounded() -> None:
    assert validate({"cluster_identifiers": [f"c{n}" for n in range(20)]}, max_concurrency=5)["cluster_count"] == 20
    for bad in (0, 6):
        with pytest.raises(ValueError, match="FleetMaxConcurrency"):
            validate({"cluster_identifiers": ["a"]}, max_concurrency=bad)


def test_execution_names_fit_step_functions_limit() -> None:
    name = fleet.child_execution_name("x" * 80, "a" * 63)
    assert len(name) <= 80 and name.startswith("a" * 63 + "-")
    assert fleet.child_execution_name("run-1", "orders") != fleet.child_execution_name("run-2", "orders")


def _failed(error: str, cause: Any) -> dict[str, Any]:
    return {"status": "FAILED", "source_kind": "cluster", "source_identifier": "orders", "error": error, "cause": cause if isinstance(cause, str) else json.dumps(cause)}


def test_the_cluster_execution_s_own_error_is_read_from_the_sync_task_cause_in_either_casing() -> None:
    arn = "arn:aws:states:us-east-1:123456789012:execution:export:orders-1"
    pascal = fleet.outcome_of(_failed("States.TaskFailed", {"ExecutionArn": arn, "Status": "FAILED", "Error": "ExportFailed", "Cause": "KMS key check failed"}))
    camel = fleet.outcome_of(_failed("States.TaskFailed", {"executionArn": arn, "status": "FAILED", "error": "ExportFailed", "cause": "KMS key check failed"}))
    assert pascal == camel == {"source_kind": "cluster", "source_identifier": "orders", "outcome": "FAILED", "execution_arn": arn,
                               "error": "ExportFailed", "cause": "KMS key check failed"}
    refused = fleet.outcome_of(_failed("States.TaskFailed", {"Status": "FAILED", "Error": "ClusterNotAllowed", "Cause": "not allowed"}))
    assert refused["outcome"] == "REFUSED"
    refused_instance = fleet.outcome_of(_failed("States.TaskFailed", {"Status": "FAILED", "Error": "DBInstanceNotAllowed", "Cause": "not allowed"}))
    assert refused_instance["outcome"] == "REFUSED"
    # A start that failed outright (not the cluster's execution) keeps the task's own error.
    started = fleet.outcome_of(_failed("StepFunctions.ExecutionLimitExceededException", "Too many executions"))
    assert (started["error"], started["cause"]) == ("StepFunctions.ExecutionLimitExceededException", "Too many executions")


def test_the_summary_fails_when_any_cluster_did_not_export() -> None:
    ok = {"status": "SUCCEEDED", "source_kind": "cluster", "source_identifier": "billing", "export": {"export_task_identifier": "t"}, "athena": {"tables_created": 3},
          "notification": {"status": "SUCCEEDED"}}
    partial = {**ok, "source_identifier": "crm", "notification": {"status": "PARTIAL"}}
    assert fleet.summary([ok])["status"] == "SUCCEEDED" and fleet.summary([ok])["failed"] == 0
    assert fleet.summary([ok, partial])["status"] == "PARTIAL"
    failed = fleet.summary([ok, _failed("States.TaskFailed", {"Error": "ExportFailed", "Cause": "x"})])
    assert failed["status"] == "FAILED" and failed["failed"] == 1 and failed["error"] == "FleetExportFailed"
    assert failed["cause"] == "1 of 2 sources did not export: orders (ExportFailed)"


def test_clusters_and_db_instances_are_exported_together() -> None:
    job = validate({"cluster_identifiers": ["orders"], "db_instance_identifiers": ["Orders", "billing-db"], "use_latest_automated_snapshot": True})
    assert [(item["source_kind"], item["input"]) for item in job["items"]] == [
        ("cluster", {"cluster_identifier": "orders", "use_latest_automated_snapshot": True}),
        ("instance", {"db_instance_identifier": "orders", "use_latest_automated_snapshot": True}),
        ("instance", {"db_instance_identifier": "billing-db", "use_latest_automated_snapshot": True}),
    ]
    # A cluster and a DB instance of the same name run as two executions of their own.
    names = [item["execution_name"] for item in job["items"]]
    assert len(set(names)) == 3
    assert validate({"db_instance_identifiers": ["billing-db"]})["cluster_count"] == 1


def test_db_instances_are_never_exported_directly() -> None:
    text = "\n".join(problems({"cluster_identifiers": ["orders"], "db_instance_identifiers": ["billing-db"], "export_cluster_directly": True}))
    assert "export_cluster_directly: cannot be used with db_instance_identifier" in text
    assert "db_instance_identifiers[0]: must not contain two consecutive hyphens" in "\n".join(problems({"db_instance_identifiers": ["a--b"]}))
