"""The fleet's input, its accounts' items, each account's sources, the results read back and the summary."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

_COMMON = str(Path(__file__).resolve().parents[2] / "functions" / "common")
if _COMMON not in sys.path:
    sys.path.insert(0, _COMMON)

from aurora_lake import fleet, inventory, naming  # noqa: E402
from aurora_lake.errors import FleetResultsUnreadable, FleetSourcesNotListed, InvalidInput  # noqa: E402

LAKE = "123456789012"
EXPORT_MACHINE = f"arn:aws:states:us-east-1:{LAKE}:stateMachine:aurora-lake-ExportStateMachine"


def validate(raw: object, max_concurrency: int = 2, max_accounts: int = 0) -> dict[str, Any]:
    return fleet.validate_fleet_input(raw, region="us-east-1", account=LAKE, partition="aws", default_s3_prefix="exports/",
                                      execution_name="nightly", max_concurrency=max_concurrency, max_accounts=max_accounts)


def problems(raw: object) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        validate(raw)
    return str(caught.value).splitlines()


def sources_of(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The account's sources with the input each export gets (the map merges in the shared options)."""
    listed = fleet.list_account_sources(item, LAKE)
    return [{**source, "input": fleet.export_input(source, listed["options"])} for source in listed["sources"]]


def test_the_plan_is_one_item_per_account_and_carries_no_source_input() -> None:
    plan = validate({"cluster_identifiers": ["Orders", "billing"], "export_cluster_directly": True, "s3_prefix": "exports/fleet_1"})
    assert (plan["account_count"], plan["source_count"], plan["max_concurrency"], plan["scheduled"]) == (1, 2, 2, False)
    [item] = plan["accounts"]
    assert item == {"account_id": LAKE, "lake_account": True, "fleet_execution_name": "nightly", "max_concurrency": 2,
                    "sources": [{"kind": "cluster", "identifier": "orders"}, {"kind": "cluster", "identifier": "billing"}],
                    "options": {"export_cluster_directly": True, "s3_prefix": "exports/fleet_1"}}


def test_each_source_gets_the_shared_options_and_a_name_of_its_own() -> None:
    [item] = validate({"cluster_identifiers": ["Orders", "billing"], "export_cluster_directly": True, "s3_prefix": "exports/fleet_1"})["accounts"]
    listed = sources_of(item)
    assert [source["input"] for source in listed] == [
        {"cluster_identifier": "orders", "export_cluster_directly": True, "s3_prefix": "exports/fleet_1"},
        {"cluster_identifier": "billing", "export_cluster_directly": True, "s3_prefix": "exports/fleet_1"},
    ]
    names = [source["name"] for source in listed]
    assert names[0].startswith("orders-") and names[1].startswith("billing-") and len(set(names)) == 2
    # The same fleet execution names the same executions (a redriven run finds its own).
    [again] = validate({"cluster_identifiers": ["orders", "billing"]})["accounts"]
    assert names == [source["name"] for source in sources_of(again)]
    # ... and the names are the ones earlier releases gave (a fleet redriven across an upgrade).
    assert names[0] == fleet.child_execution_name("nightly", "orders")


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
     ({"cluster_identifiers": [f"c{n}" for n in range(inventory.MAX_SOURCES_PER_ACCOUNT + 1)]}, f"at most {inventory.MAX_SOURCES_PER_ACCOUNT} per account"),
     ({"cluster_identifiers": [f"c{n}" for n in range(150)], "db_instance_identifiers": [f"d{n}" for n in range(51)]},
      f"names 201 sources of the lake's own account; a fleet run exports at most {inventory.MAX_SOURCES_PER_ACCOUNT}"),
     ({"scheduled": True, "cluster_identifiers": ["a"]}, "scheduled: exports every source the lake knows: give it alone"),
     ({"scheduled": "yes"}, "scheduled: must be a JSON boolean"),
     ({"scheduled": True, "s3_prefix": "exports/x_1"}, "s3_prefix: is not taken together with source_accounts or scheduled"),
     ([], "must be a JSON object"), (None, "must be a JSON object")],
)
def test_malformed_fleets_are_refused(raw: object, fragment: str) -> None:
    assert any(fragment in line for line in problems(raw)), problems(raw)


def test_a_full_account_is_accepted_and_the_concurrencies_are_bounded() -> None:
    plan = validate({"cluster_identifiers": [f"c{n}" for n in range(inventory.MAX_SOURCES_PER_ACCOUNT)]}, max_concurrency=5, max_accounts=40)
    assert plan["source_count"] == inventory.MAX_SOURCES_PER_ACCOUNT and plan["max_accounts"] == 40
    for bad in (0, 6):
        with pytest.raises(ValueError, match="FleetMaxConcurrency"):
            validate({"cluster_identifiers": ["a"]}, max_concurrency=bad)
    for bad in (-1, fleet.MAX_ACCOUNTS_AT_ONCE + 1):
        with pytest.raises(ValueError, match="FleetMaxAccounts"):
            validate({"cluster_identifiers": ["a"]}, max_accounts=bad)


def test_execution_names_fit_step_functions_limit() -> None:
    name = fleet.child_execution_name("x" * 80, "a" * 63)
    assert len(name) <= 80 and name.startswith("a" * 63 + "-")
    assert fleet.child_execution_name("run-1", "orders") != fleet.child_execution_name("run-2", "orders")


def test_clusters_and_db_instances_are_exported_together() -> None:
    [item] = validate({"cluster_identifiers": ["orders"], "db_instance_identifiers": ["Orders", "billing-db"], "use_latest_automated_snapshot": True})["accounts"]
    listed = sources_of(item)
    assert [(source["kind"], source["input"]) for source in listed] == [
        ("cluster", {"cluster_identifier": "orders", "use_latest_automated_snapshot": True}),
        ("instance", {"db_instance_identifier": "orders", "use_latest_automated_snapshot": True}),
        ("instance", {"db_instance_identifier": "billing-db", "use_latest_automated_snapshot": True}),
    ]
    # A cluster and a DB instance of the same name run as two executions of their own.
    assert len({source["name"] for source in listed}) == 3


def test_db_instances_are_never_exported_directly() -> None:
    text = "\n".join(problems({"cluster_identifiers": ["orders"], "db_instance_identifiers": ["billing-db"], "export_cluster_directly": True}))
    assert "export_cluster_directly: cannot be used with db_instance_identifier" in text
    assert "db_instance_identifiers[0]: must not contain two consecutive hyphens" in "\n".join(problems({"db_instance_identifiers": ["a--b"]}))


# --- the scheduled fleet: the inventory lists the sources, account by account --------------------


def test_a_scheduled_fleet_lists_every_known_source_in_its_accounts_own_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_CLUSTERS", "orders,Billing")
    monkeypatch.setenv("ALLOWED_DB_INSTANCES", "crm-db")
    monkeypatch.setenv("SOURCE_ACCOUNT_IDS", "")
    plan = validate({"scheduled": True, "use_latest_automated_snapshot": True})
    assert plan["scheduled"] is True and plan["source_count"] is None
    [item] = plan["accounts"]
    assert item["sources"] is None  # listed in the account's own step, never in the plan
    listed = fleet.list_account_sources(item, LAKE)
    assert listed["listed_from"] == "known sources"
    assert [(s["kind"], s["identifier"]) for s in listed["sources"]] == [("cluster", "billing"), ("cluster", "orders"), ("instance", "crm-db")]
    assert listed["options"] == {"use_latest_automated_snapshot": True}


def test_a_scheduled_fleet_refuses_an_allow_list_it_cannot_enumerate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_CLUSTERS", "*")
    monkeypatch.setenv("ALLOWED_DB_INSTANCES", "")
    [item] = validate({"scheduled": True})["accounts"]
    with pytest.raises(FleetSourcesNotListed, match="AllowedClusterIdentifiers does not list its sources by name"):
        fleet.list_account_sources(item, LAKE)


def test_an_account_with_more_sources_than_a_run_takes_fails_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_CLUSTERS", ",".join(f"c{n}" for n in range(inventory.MAX_SOURCES_PER_ACCOUNT + 1)))
    monkeypatch.setenv("ALLOWED_DB_INSTANCES", "")
    with pytest.raises(FleetSourcesNotListed, match=f"at most {inventory.MAX_SOURCES_PER_ACCOUNT} per account"):
        inventory.known_sources(LAKE, LAKE)


# --- a source not exported: its own error, bounded -----------------------------------------------


def _described(**fields: Any) -> str:
    return json.dumps(fields)


def test_the_source_execution_s_own_error_is_read_from_the_sync_task_cause_in_either_casing() -> None:
    arn = "arn:aws:states:us-east-1:123456789012:execution:export:orders-1"
    source = {"kind": "cluster", "identifier": "orders", "name": "orders-1"}
    pascal = fleet.source_failure(source, {"Error": "States.TaskFailed", "Cause": _described(ExecutionArn=arn, Status="FAILED", Error="ExportFailed", Cause="KMS key check failed")})
    camel = fleet.source_failure(source, {"Error": "States.TaskFailed", "Cause": _described(executionArn=arn, status="FAILED", error="ExportFailed", cause="KMS key check failed")})
    assert pascal == camel == {**source, "result": {"status": "FAILED", "error": "ExportFailed", "cause": "KMS key check failed", "ran": True}}
    for refusal in ("ClusterNotAllowed", "DBInstanceNotAllowed", "AccountNotAllowed"):
        refused = fleet.source_failure(source, {"Error": "States.TaskFailed", "Cause": _described(Status="FAILED", Error=refusal, Cause="no")})
        assert refused["result"]["status"] == "REFUSED"
    # A start that failed outright (not the source's execution) keeps the task's own error.
    started = fleet.source_failure(source, {"Error": "StepFunctions.ExecutionLimitExceededException", "Cause": "Too many executions"})
    assert (started["result"]["error"], started["result"]["cause"]) == ("StepFunctions.ExecutionLimitExceededException", "Too many executions")


def test_a_huge_cause_is_cut_so_an_account_s_state_stays_small() -> None:
    failure = fleet.source_failure({"kind": "cluster", "identifier": "orders", "name": "n"},
                                   {"Error": "E" * 500, "Cause": _described(Status="FAILED", Error="ExportFailed", Cause="x" * 40_000)})
    assert len(json.dumps(failure["result"]["cause"])) <= fleet.CAUSE_LIMIT and "more characters" in failure["result"]["cause"]
    assert len(json.dumps(failure["result"]["error"])) <= fleet.ERROR_LIMIT
    # Counted as JSON: a cause of control characters (escaped six bytes each) is cut as short.
    hidden = fleet.source_failure({"kind": "cluster", "identifier": "orders", "name": "n"}, {"Error": "E", "Cause": "\x01" * 5_000})
    assert len(json.dumps(hidden["result"]["cause"])) <= fleet.CAUSE_LIMIT
    assert len(json.dumps(failure)) < 800


# --- the results read back -----------------------------------------------------------------------


class FakeS3:
    """get_object of a dict of keys (the summary only reads)."""

    def __init__(self, objects: dict[str, Any]) -> None:
        self.objects = {key: value if isinstance(value, bytes) else json.dumps(value).encode() for key, value in objects.items()}

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        if Key not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": Key}}, "GetObject")
        return {"Body": io.BytesIO(self.objects[Key])}


def _results(items: list[dict[str, Any]], entries: dict[str, list[dict[str, Any]]]) -> tuple[FakeS3, dict[str, Any]]:
    prefix = naming.fleet_results_prefix("nightly") + "/run-1/"
    objects: dict[str, Any] = {naming.fleet_accounts_key("nightly"): items}
    files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for status, listed in entries.items():
        objects[f"{prefix}{status}_0.json"] = listed
        files[status] = [{"Key": f"{prefix}{status}_0.json", "Size": 1}]
    objects[f"{prefix}manifest.json"] = {"DestinationBucket": "b", "MapRunArn": "arn", "ResultFiles": files}
    return FakeS3(objects), {"MapRunArn": "arn", "ResultWriterDetails": {"Bucket": "b", "Key": f"{prefix}manifest.json"}}


def _succeeded(account: str, outcomes: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"Status": "SUCCEEDED", "Input": json.dumps({"account_id": account}),
            "Output": json.dumps({"account_id": account, "sources": outcomes, **extra})}


OK = {"kind": "cluster", "identifier": "billing", "name": "billing-1",
      "result": {"status": "SUCCEEDED", "export_task": "t", "tables_created": 3, "tables_skipped": 0, "sample_table": "billing__db__t"}}


def test_every_account_is_read_back_and_an_account_the_map_never_ran_is_named() -> None:
    orders = "111111111111"
    items = [{"account_id": LAKE, "lake_account": True}, {"account_id": orders, "lake_account": False}, {"account_id": "222222222222"}]
    failed = {"kind": "cluster", "identifier": "orders", "name": "orders-1", "result": {"status": "FAILED", "error": "ExportFailed", "cause": "x"}}
    s3, map_run = _results(items, {"SUCCEEDED": [_succeeded(LAKE, [OK]), _succeeded(orders, [failed])]})
    results = fleet.read_results(s3, "b", "nightly", map_run, EXPORT_MACHINE)
    assert [(o.account, o.identifier, o.status) for o in results.outcomes] == [(LAKE, "billing", "SUCCEEDED"), (orders, "orders", "FAILED")]
    assert results.outcomes[0].execution_arn == EXPORT_MACHINE.replace(":stateMachine:", ":execution:") + ":billing-1"
    assert [(p.account, p.error) for p in results.problems] == [("222222222222", "AccountNotRun")]
    assert results.status == "FAILED" and results.accounts == 3
    cause = fleet.summary_cause(results, "s3://b/reports/fleets/nightly.json")
    assert cause == ("1 of 2 sources did not export and 1 account was not exported in full: orders of account 111111111111 (ExportFailed), "
                     "account 222222222222 (AccountNotRun)")


def test_a_failed_account_step_and_an_unlisted_account_are_problems_of_their_own() -> None:
    orders = "111111111111"
    items = [{"account_id": LAKE}, {"account_id": orders}]
    s3, map_run = _results(items, {
        "SUCCEEDED": [_succeeded(LAKE, [], error="FleetSourcesNotListed", cause=json.dumps({"errorMessage": "AllowedClusterIdentifiers is '*'"}))],
        "FAILED": [{"Status": "FAILED", "Input": json.dumps({"account_id": orders}), "Error": "States.DataLimitExceeded", "Cause": "too big"}],
    })
    results = fleet.read_results(s3, "b", "nightly", map_run, EXPORT_MACHINE)
    assert [(p.account, p.error, p.cause) for p in results.problems] == [
        (LAKE, "FleetSourcesNotListed", "AllowedClusterIdentifiers is '*'"), (orders, "States.DataLimitExceeded", "too big")]


def test_the_summary_status_is_partial_only_when_every_source_exported() -> None:
    partial = {**OK, "identifier": "crm", "result": {**OK["result"], "status": "PARTIAL"}}
    s3, map_run = _results([{"account_id": LAKE}], {"SUCCEEDED": [_succeeded(LAKE, [OK, partial])]})
    results = fleet.read_results(s3, "b", "nightly", map_run, EXPORT_MACHINE)
    assert results.status == "PARTIAL" and fleet.summary_cause(results, "r") == "all 2 sources exported"


@pytest.mark.parametrize("broken, fragment", [
    ({"SUCCEEDED": [{"Output": "{}"}]}, "without Status"),
    ({"SUCCEEDED": [{"Status": "SUCCEEDED"}]}, "has no Output"),
    ({"SUCCEEDED": [{"Status": "SUCCEEDED", "Output": "not json"}]}, "is not JSON"),
    ({"SUCCEEDED": [{"Status": "SUCCEEDED", "Output": json.dumps({"sources": []})}]}, "is not an account's outcomes"),
])
def test_results_not_in_the_form_step_functions_writes_fail_loudly(broken: dict[str, Any], fragment: str) -> None:
    s3, map_run = _results([{"account_id": LAKE}], broken)
    with pytest.raises(FleetResultsUnreadable, match=fragment):
        fleet.read_results(s3, "b", "nightly", map_run, EXPORT_MACHINE)


def test_results_outside_the_run_s_own_folder_are_never_read() -> None:
    s3, _ = _results([{"account_id": LAKE}], {})
    for details in ({"Bucket": "other", "Key": naming.fleet_results_prefix("nightly") + "/x/manifest.json"},
                    {"Bucket": "b", "Key": naming.fleet_results_prefix("another-run") + "/x/manifest.json"}):
        with pytest.raises(FleetResultsUnreadable, match="not under"):
            fleet.read_results(s3, "b", "nightly", {"ResultWriterDetails": details}, EXPORT_MACHINE)


def test_a_map_run_that_failed_before_its_accounts_names_each_with_the_error() -> None:
    s3, _ = _results([{"account_id": LAKE}], {})
    results = fleet.read_results(s3, "b", "nightly", None, EXPORT_MACHINE, {"Error": "States.ItemReaderFailed", "Cause": "AccessDenied"})
    [problem] = results.problems
    assert problem.error == "AccountNotRun" and "States.ItemReaderFailed: AccessDenied" in problem.cause
