"""The triggers and the sample events, through the real state machine and handlers.

Snapshot and AWS Backup events are delivered by the emulated EventBridge to the template's rules
(their patterns as declared) and so to the trigger router, which starts the export. EventBridge
Scheduler is not emulated: the schedule's Input is read from template.yaml and started as the
service would start it.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from aurora_lake import naming

from emulated_account import EmulatedAccount
from emulated_account.eventbridge_sim import apply_input_transformer

from .conftest import routed

EVENTS = Path(__file__).resolve().parents[2] / "events"
NEWEST_AUTOMATED = "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:demo-aurora-cluster-2026-11-01-03-10"


def test_input_transformer_quotes_like_eventbridge() -> None:
    transformer = {"InputPathsMap": {"a": "$.detail.a", "n": "$.n"}, "InputTemplate": '{"x": <a>, "y": "id <a>", "z": <n>}'}
    rendered = apply_input_transformer(transformer, {"detail": {"a": 'say "hi"'}, "n": 3})
    assert json.loads(rendered) == {"x": 'say "hi"', "y": 'id say "hi"', "z": 3}


def _resource(account: EmulatedAccount, logical_id: str) -> dict[str, Any]:
    assert account.template.is_created(logical_id), f"{logical_id} is not deployed with these parameters"
    return account.template.resolve(account.template.resources[logical_id]["Properties"])


def test_snapshot_created_event_exports_that_snapshot() -> None:
    event = json.loads((EVENTS / "rds-cluster-snapshot-created-event.json").read_text())
    with EmulatedAccount(parameters={"EnableSnapshotEventTrigger": "true"}) as account:
        rule = _resource(account, "SnapshotCreatedRule")
        assert EventPattern(None, rule["EventPattern"]).matches_event(event), "the rule must match the sample event"
        [target] = rule["Targets"]
        assert target["Arn"] == account.functions["RouteTriggerFunction"].arn
        [delivery], result = routed(account, event)
        started = account.client("stepfunctions").describe_execution(executionArn=delivery.result["execution_arn"])
    assert delivery.rule == "SnapshotCreatedRule" and delivery.error_type is None
    # The input the rule's input transformer used to send, under the snapshot's own name.
    assert json.loads(started["input"]) == {"snapshot_arn": event["detail"]["SourceArn"], "trigger": "snapshot-event"}
    assert started["name"] == naming.trigger_execution_name(NEWEST_AUTOMATED)
    assert result is not None and result.status == "SUCCEEDED", result
    assert result.snapshots_created == []  # an event names an existing snapshot: nothing new is taken
    [export] = result.export_tasks
    assert export["source_arn"] == event["detail"]["SourceArn"] == NEWEST_AUTOMATED
    assert export["status"] == "COMPLETE"
    assert result.notifications[-1]["subject"].startswith("[aurora-lake] SUCCEEDED demo-aurora-cluster")


def test_scheduled_input_exports_the_cluster() -> None:
    parameters = {"EnableSchedule": "true", "ScheduleClusterIdentifier": "demo-aurora-cluster"}
    with EmulatedAccount(parameters=parameters) as account:
        schedule = _resource(account, "ExportSchedule")
        assert schedule["Target"]["Arn"] == account.state_machine_arn
        execution_input = schedule["Target"]["Input"]
        result = account.run(json.loads(execution_input))  # the target sends this JSON text
    assert json.loads(execution_input) == json.loads((EVENTS / "scheduler-payload.json").read_text())
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    [snapshot] = result.snapshots_created
    [export] = result.export_tasks
    assert export["source_arn"].endswith(f":cluster-snapshot:{snapshot}")
    assert "CleanUpSnapshot" in result.states


def test_schedule_of_the_latest_automated_snapshot_sends_that_mode_s_console_input() -> None:
    # events/latest-automated-snapshot.json itself is run by the workflow scenarios.
    parameters = {"EnableSchedule": "true", "ScheduleClusterIdentifier": "demo-aurora-cluster",
                  "ScheduleSnapshotSource": "latest-automated"}
    from emulated_account.template import Template

    template = Template(Path(__file__).resolve().parents[2] / "template.yaml",
                        parameters={"AllowedClusterIdentifiers": "demo-aurora-cluster", **parameters})
    schedule = template.resolve(template.resources["ExportSchedule"]["Properties"])
    assert json.loads(schedule["Target"]["Input"]) == json.loads((EVENTS / "latest-automated-snapshot.json").read_text())


# --- events/functions: what `sam local invoke FUNCTION -e events/functions/<step>.json` sends --


def _event(step: str) -> dict[str, Any]:
    return json.loads((EVENTS / "functions" / f"{step}.json").read_text())


def _invoke(account: EmulatedAccount, logical_id: str, event: dict[str, Any]) -> dict[str, Any]:
    assert account.runtime is not None
    error, payload = account.runtime.run(account.functions[logical_id], event)
    result = json.loads(payload)
    assert error is None, (logical_id, result)
    return result


def test_every_function_sample_event_is_what_its_handler_takes() -> None:
    """The samples chain like one execution (its names are derived from the execution name),
    so each handler is run on its sample in a fresh account and must do its step's work."""
    samples = {path.stem for path in (EVENTS / "functions").glob("*.json")}
    assert samples == {"validate_input", "create_snapshot", "check_snapshot", "start_export", "check_export",
                       "create_athena_tables", "delete_snapshot", "notify", "notify-failure", "wake_export_wait"}
    logs, log_lines = io.StringIO(), io.StringIO()
    with EmulatedAccount(handler_output=logs) as account, _captured_logs(log_lines):
        job = _invoke(account, "ValidateInputFunction", _event("validate_input"))["job"]
        assert job == _event("create_snapshot")["job"], "validate_input.json must produce the job the other samples carry"

        snapshot = _invoke(account, "CreateSnapshotFunction", _event("create_snapshot"))
        assert snapshot["snapshot_identifier"] == job["snapshot_identifier"] and snapshot["created_by_this_run"] is True
        account.clock.advance(3600)
        assert _invoke(account, "CheckSnapshotFunction", _event("check_snapshot"))["status"] == "available"

        export = _invoke(account, "StartExportFunction", _event("start_export"))
        assert export["export_task_identifier"] == _event("check_export")["export"]["export_task_identifier"]
        account.clock.advance(6 * 3600)
        assert _invoke(account, "CheckExportFunction", _event("check_export"))["status"] == "COMPLETE"
        # RDS's event for that export: the task is found by its source, and no wait of a run holds a token.
        woken = _invoke(account, "WakeExportWaitFunction", _event("wake_export_wait"))
        assert woken == {"event_id": "RDS-EVENT-0164", "source_arn": export["source_arn"], "woken": [], "spent": [],
                         "not_waiting": [export["export_task_identifier"]], "foreign": 0, "unreadable": []}

        athena = _invoke(account, "CreateAthenaTablesFunction", _event("create_athena_tables"))
        assert athena["tables_created"] > 0 and athena["plan_key"]
        # The first invocation records the export for retention (no older export to check here).
        assert athena["retention"] == {"exports_checked": 0, "exports_gone": [], "tables_dropped": 0, "snapshots_removed": 0, "more": False}
        ledger = account.client("s3").list_objects_v2(Bucket=account.bucket, Prefix="athena-catalog/")["Contents"]
        # Keyed by the account the export ran in, then the export (identifiers are unique per account only).
        _, plan_account, plan_export, _ = athena["plan_key"].split("/")
        assert plan_account == account.account_id
        # Beside it, where the bounded clean-up resumes (the next ledger entry to examine).
        assert [entry["Key"] for entry in ledger] == [f"athena-catalog/{plan_account}/{plan_export}.json", "athena-catalog/_cursor.json"]
        for _ in range(5):  # the state machine's loop: call again with the result until done
            if athena["done"]:
                break
            athena = _invoke(account, "CreateAthenaTablesFunction", {**_event("create_athena_tables"), "athena": athena})
        assert athena["done"] is True

        cleanup = _invoke(account, "DeleteSnapshotFunction", _event("delete_snapshot"))
        assert cleanup["deleted"] is True and cleanup["snapshot_identifier"] == job["snapshot_identifier"]

        assert _invoke(account, "NotifyFunction", _event("notify"))["status"] == "SUCCEEDED"
        failure = _invoke(account, "NotifyFunction", _event("notify-failure"))
        assert failure["error"] == "ExportFailed" and "KMS key check failed" in failure["cause"]
        subjects = [n["subject"] for n in account.notifications()]
    assert [s.split()[1] for s in subjects] == ["SUCCEEDED", "FAILED"]
    failed_run = _event("notify-failure")["state"]["job"]["execution_name"]
    _assert_logs_and_metrics(log_lines.getvalue() + logs.getvalue(), [job["execution_name"], failed_run], tables=athena["tables_created"])


@contextlib.contextmanager
def _captured_logs(stream: io.StringIO) -> Iterator[None]:
    """The functions' log lines, formatted as in Lambda, whatever stream the logger was created with."""
    from aurora_lake.observability import logger

    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    underlying = logging.getLogger(logger.name)
    underlying.addHandler(handler)
    previous = underlying.handlers[:-1]
    for other in previous:  # each line once: only the capture writes while the functions run
        underlying.removeHandler(other)
    try:
        yield
    finally:
        underlying.removeHandler(handler)
        for other in previous:
            underlying.addHandler(other)


def _assert_logs_and_metrics(output: str, execution_names: list[str], tables: int) -> None:
    """Every log line names its step and carries the execution name as correlation id, and the
    run's metrics are published once each in the AuroraLake namespace (Embedded Metric Format)."""
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    logs = [r for r in records if "level" in r]
    assert {r["step"] for r in logs} >= {"ValidateInput", "CreateSnapshot", "CheckSnapshot", "StartExport", "CheckExport",
                                         "CreateAthenaTables", "CleanUpSnapshot", "Notify", "WakeExportWait"}
    # RDS's export event belongs to no execution: its lines carry the event's id.
    woken = [r for r in logs if r["step"] == "WakeExportWait"]
    assert woken and all(r["correlation_id"] == _event("wake_export_wait")["id"] for r in woken)
    logs = [r for r in logs if r["step"] != "WakeExportWait"]
    assert all(r["service"] == "aurora-lake" for r in logs)
    # The failure sample comes from another execution: its one log line carries that name.
    assert [r["correlation_id"] for r in logs] == [execution_names[0]] * (len(logs) - 1) + [execution_names[1]]
    published: dict[str, list[float]] = {}
    for record in (r for r in records if "_aws" in r):
        for directive in record["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "AuroraLake"
            for metric in directive["Metrics"]:
                published.setdefault(metric["Name"], []).extend(record[metric["Name"]])
    assert set(published) >= {"ExportDuration", "ExportedGigabytes", "TablesExported", "TablesSkipped"}
    assert published["TablesExported"] == [tables] and published["TablesSkipped"] == [0]
    assert len(published["ExportDuration"]) == 1 and published["ExportDuration"][0] > 0


def _snapshot_event(account: EmulatedAccount, identifier: str) -> dict[str, Any]:
    """RDS's "manual snapshot created" event of ``identifier``, which the snapshot rule matches."""
    event = json.loads((EVENTS / "rds-cluster-snapshot-created-event.json").read_text())
    arn = "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:" + identifier
    event["detail"].update(SourceIdentifier=identifier, SourceArn=arn, EventID="RDS-EVENT-0075")
    event["resources"] = [arn]
    rule = _resource(account, "SnapshotCreatedRule")
    assert EventPattern(None, rule["EventPattern"]).matches_event(event), identifier
    return event


@pytest.mark.parametrize(
    ("identifier", "reason"),
    [
        # Another cluster's snapshot: the rule follows every cluster, the router counts and logs it.
        ("forbidden-cluster-manual-2026-11-01", "not of a cluster this deployment may export"),
        # The workflow's own snapshot, by its exact name.
        ("demo-aurora-cluster-lake-0123456789ab", "taken by this workflow"),
    ],
)
def test_a_trigger_this_deployment_does_not_act_on_is_counted_and_logged_and_starts_nothing(identifier: str, reason: str) -> None:
    output, log_lines = io.StringIO(), io.StringIO()
    parameters = {"EnableSnapshotEventTrigger": "true", "SnapshotEventTypes": "both"}
    with EmulatedAccount(parameters=parameters, handler_output=output) as account, _captured_logs(log_lines):
        [delivery], result = routed(account, _snapshot_event(account, identifier))
        executions = account.client("stepfunctions").list_executions(stateMachineArn=account.state_machine_arn)["executions"]
        rds_calls = [call for call in account.calls.calls if call.service == "rds"]
        notifications = account.notifications()
    assert result is None and executions == [] and delivery.error_type is None
    assert delivery.result == {"ignored": delivery.result["ignored"]} and reason in delivery.result["ignored"]
    assert notifications == [] and rds_calls == []
    logs = [json.loads(line) for line in (log_lines.getvalue() + output.getvalue()).splitlines() if line.startswith("{")]
    [ignored] = [line for line in logs if line.get("message") == "trigger ignored"]
    assert reason in ignored["reason"] and ignored["trigger"] == "snapshot-event"
    [metric] = [line for line in logs if "TriggersIgnored" in line]
    assert metric["TriggersIgnored"] == [1.0] or metric["TriggersIgnored"] == 1.0
    assert metric["stack"] == "aurora-lake"


def test_a_snapshot_named_like_ours_but_of_another_shape_is_exported() -> None:
    """Only the exact "<cluster>-lake-<12 hex>" is the workflow's: a user's "...-lake-..." snapshot is not."""
    from aurora_lake import naming

    assert not naming.is_own_snapshot("demo-aurora-cluster-lake-backup-before-upgrade", ["demo-aurora-cluster"])
    assert naming.is_own_snapshot("demo-aurora-cluster-lake-0123456789ab", ["demo-aurora-cluster"])
    assert not naming.is_own_snapshot("data-lake-prod-2026-11-01", ["data-lake-prod", "data"])


def test_the_same_snapshot_started_by_hand_still_fails_and_notifies() -> None:
    from aurora_lake import triggers

    with EmulatedAccount(parameters={"EnableSnapshotEventTrigger": "true", "SnapshotEventTypes": "both"}) as account:
        given = triggers.export_input(_snapshot_event(account, "forbidden-cluster-manual-2026-11-01"), account.account_id)
        given.pop("trigger")
        result = account.run(given)
    assert result.status == "FAILED" and result.error in ("ClusterNotAllowed", "AccessDenied", "AccessDeniedException")
    assert result.notifications and "FAILED" in result.notifications[-1]["subject"]


def test_a_trigger_input_started_by_hand_is_still_ignored_by_the_export_itself() -> None:
    """The export's own ValidateInput keeps the router's check for an input that says it is a trigger."""
    from aurora_lake import triggers

    with EmulatedAccount(parameters={"EnableSnapshotEventTrigger": "true", "SnapshotEventTypes": "both"}) as account:
        given = triggers.export_input(_snapshot_event(account, "forbidden-cluster-manual-2026-11-01"), account.account_id)
        result = account.run(given)
    assert (result.status, result.states[-1]) == ("SUCCEEDED", "TriggerIgnored")
    assert result.notifications == [] and result.export_tasks == []
