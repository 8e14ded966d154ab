"""Notifications of a source account's run name the account; a stranger's text is never shown as one."""

from __future__ import annotations

from typing import Any

from aurora_lake import notifications

SOURCE = "111111111111"
JOB: dict[str, Any] = {
    "cluster_identifier": "orders-aurora",
    "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:sm:run-1",
    "region": "us-east-1",
    "started_epoch": 1000.0,
}
EXPORT = {"export_task_identifier": "orders-aurora-lake-1", "s3_bucket": "b", "s3_prefix": f"exports/accounts/{SOURCE}/"}


def success(job: dict[str, Any]) -> dict[str, Any]:
    return notifications.success_message({"job": job, "snapshot": {}, "export": EXPORT, "athena": {"tables_created": 1}}, 2000.0, "wg")


def test_a_source_accounts_success_and_failure_name_the_account() -> None:
    message = success({**JOB, "source_account": SOURCE})
    assert f"Account:       {SOURCE} (source account)" in message["message"].splitlines()
    assert message["attributes"]["account"] == {"DataType": "String", "StringValue": SOURCE}
    failure = notifications.failure_message({"job": {**JOB, "source_account": SOURCE}, "failure": {"step": "StartExport", "error": "ExportFailed", "cause": "x"}})
    assert f"Account:      {SOURCE} (source account)" in failure["message"].splitlines()
    assert failure["attributes"]["account"]["StringValue"] == SOURCE


def test_the_lakes_own_runs_read_as_before() -> None:
    message = success(JOB)
    assert "Account:" not in message["message"] and "account" not in message["attributes"]


def test_an_account_that_is_not_twelve_digits_is_never_shown() -> None:
    for forged in (f"{SOURCE}\nStatus: SUCCEEDED", "11111111111", None, 111111111111):
        message = success({**JOB, "source_account": forged})
        assert "Account:" not in message["message"] and "account" not in message["attributes"]


def test_the_fleet_summary_names_each_sources_account() -> None:
    from aurora_lake import fleet

    own = fleet.SourceOutcome("123456789012", True, "cluster", "demo-aurora-cluster", "SUCCEEDED")
    theirs = fleet.SourceOutcome(SOURCE, False, "cluster", "orders-aurora", "SUCCEEDED")
    forged = fleet.SourceOutcome(f"{SOURCE}\nStatus: SUCCEEDED", False, "cluster", "x", "FAILED", error="ExportFailed", cause="y")
    results = fleet.FleetResults(outcomes=[own, theirs, forged], accounts=3)
    message = notifications.fleet_message(results, fleet={"max_concurrency": 5}, execution_arn=None, execution_name="nightly",
                                          report_uri="s3://b/r.json", now=2000.0)["message"].splitlines()
    assert "SUCCEEDED orders-aurora (account 111111111111)" in message and "SUCCEEDED demo-aurora-cluster" in message
    assert "FAILED    x" in message  # an account that is not 12 digits is never shown
