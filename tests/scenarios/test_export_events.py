"""RDS's export events wake the export wait; polling stays the safety net.

The emulated account publishes RDS's export-finished event when a simulated export ends and
delivers it, through ExportFinishedRule's pattern as template.yaml declares it, to the real
WakeExportWait handler, which hands the wait's task token back to the running execution.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from moto.events.models import EventPattern

from aurora_lake import naming
from emulated_account import EmulatedAccount, EventDelivery, ExecutionResult, ExportBehaviour
from emulated_account.rds_sim import export_finished_event

INPUT = {"cluster_identifier": "demo-aurora-cluster"}
EXPORT_SECONDS = 3600.0


def run(delivery: EventDelivery, export: ExportBehaviour | None = None, **options: Any) -> tuple[ExecutionResult, EmulatedAccount]:
    with EmulatedAccount(
        export=export or ExportBehaviour(duration_seconds=EXPORT_SECONDS), export_events=delivery, handler_output=io.StringIO(), **options
    ) as account:
        return account.run(INPUT), account


def detection_latency(result: ExecutionResult) -> float:
    [task] = result.export_tasks
    checks = [entry.simulated_seconds for entry in result.state_entries if entry.name == "CheckExport"]
    return checks[-1] - (task["ends_at"] - result.started_at)


def wait_outcomes(result: ExecutionResult) -> list[str]:
    """How each export wait ended: TaskSucceeded (woken), TaskTimedOut (the poll interval passed)."""
    return [event["type"] for event in result.history if event["type"] in ("TaskSucceeded", "TaskTimedOut", "TaskFailed")]


def test_a_delivered_event_ends_the_wait_within_its_delivery_delay() -> None:
    woken, account = run(EventDelivery(delay_seconds=5.0))
    assert woken.status == "SUCCEEDED", woken.cause
    assert 5.0 <= detection_latency(woken) <= 6.0
    [delivery] = account.events.deliveries
    assert delivery.rule == "ExportFinishedRule" and delivery.error_type is None
    assert delivery.event["detail"]["EventID"] == "RDS-EVENT-0164"
    assert delivery.result["woken"] == [woken.export_tasks[0]["id"]]
    # Every wait but the last timed out at its poll interval; the last one was woken.
    assert wait_outcomes(woken)[-1] == "TaskSucceeded"
    assert set(wait_outcomes(woken)[:-1]) == {"TaskTimedOut"}


def test_the_wait_leaves_a_token_object_stored_as_aws_stores_a_put_object_body() -> None:
    # Step Functions' aws-sdk:s3:putObject stores Body as its JSON text (FIDELITY.md, Step Functions).
    with EmulatedAccount(
        export=ExportBehaviour(duration_seconds=EXPORT_SECONDS), export_events=EventDelivery(delay_seconds=5.0), handler_output=io.StringIO()
    ) as account:
        result = account.run(INPUT)
        s3 = account.client("s3")
        [key] = [o["Key"] for o in s3.list_objects_v2(Bucket=account.bucket, Prefix="export-waits/")["Contents"]]
        stored = s3.get_object(Bucket=account.bucket, Key=key)
        body = stored["Body"].read()
    [task] = result.export_tasks
    assert result.status == "SUCCEEDED", result.cause
    assert key.endswith("/" + task["id"])
    assert stored["ContentType"] == "text/plain; charset=UTF-8"
    token = json.loads(body)
    assert set(token) == {"task_token", "export_task_identifier", "execution"}
    assert token["export_task_identifier"] == task["id"] and token["execution"] == result.execution_arn
    assert body == json.dumps(token, separators=(",", ":")).encode()  # compact, as recorded


def test_without_events_the_polls_notice_the_end_with_no_more_transitions() -> None:
    polled, account = run(EventDelivery(drop=True))
    woken, _ = run(EventDelivery(delay_seconds=5.0))
    assert polled.status == "SUCCEEDED", polled.cause
    assert account.events.deliveries == [] and len(account.events.published) == 1
    assert set(wait_outcomes(polled)) == {"TaskTimedOut"}
    # The adaptive polls notice the end within a tenth of the run; the event, within seconds.
    assert 0 <= detection_latency(polled) <= 0.1 * EXPORT_SECONDS
    assert detection_latency(woken) < detection_latency(polled)
    # The event only cut the last wait short: no transition was added.
    assert woken.state_transitions <= polled.state_transitions
    assert woken.states.count("CheckExport") == polled.states.count("CheckExport")


@pytest.mark.slow
def test_duplicated_events_wake_the_wait_once() -> None:
    # Three copies at the same instant: the first wakes the wait, the others come while it resumes.
    duplicated, account = run(EventDelivery(delay_seconds=5.0, copies=3, copy_interval_seconds=0.0))
    single, _ = run(EventDelivery(delay_seconds=5.0))
    assert duplicated.status == "SUCCEEDED", duplicated.cause
    results = [delivery.result for delivery in account.events.deliveries]
    assert [len(r["woken"]) for r in results] == [1, 0, 0]
    # Step Functions refuses a spent token: the copies find nothing to wake.
    assert [len(r["spent"]) for r in results] == [0, 1, 1]
    assert duplicated.state_transitions == single.state_transitions


def test_an_event_later_than_the_polls_changes_nothing() -> None:
    late, account = run(EventDelivery(delay_seconds=4 * 3600.0))
    assert late.status == "SUCCEEDED", late.cause
    assert account.events.deliveries == []  # the run ended before the event came
    assert set(wait_outcomes(late)) == {"TaskTimedOut"}
    assert 0 <= detection_latency(late) <= 0.1 * EXPORT_SECONDS


@pytest.mark.slow
def test_an_early_or_forged_event_only_brings_a_status_check_forward() -> None:
    name = "events-early"
    snapshot_arn = naming.cluster_snapshot_arn(
        "aws", "us-east-1", "123456789012", naming.snapshot_identifier("demo-aurora-cluster", name)
    )
    with EmulatedAccount(
        export=ExportBehaviour(duration_seconds=EXPORT_SECONDS), export_events=EventDelivery(drop=True), handler_output=io.StringIO()
    ) as account:
        # A "completed" event while the export is still running (out of order, or not from RDS).
        forged = export_finished_event(_Task(snapshot_arn), account.clock.now(), account.region, account.account_id)
        account.events.put_event(forged, at=account.clock.now() + 1500.0)
        early = account.run(INPUT, name=name)
        deliveries = account.events.deliveries
    with EmulatedAccount(
        export=ExportBehaviour(duration_seconds=EXPORT_SECONDS), export_events=EventDelivery(drop=True), handler_output=io.StringIO()
    ) as account:
        plain = account.run(INPUT, name=name)
    assert early.status == "SUCCEEDED", early.cause
    [delivery] = deliveries
    assert delivery.result["woken"] == [early.export_tasks[0]["id"]]
    # The woken run read IN_PROGRESS from RDS and went on waiting: later waits timed out as usual.
    outcomes = wait_outcomes(early)
    assert outcomes.count("TaskSucceeded") == 1 and outcomes[-1] == "TaskTimedOut"
    assert wait_outcomes(plain).count("TaskSucceeded") == 0
    # At most one poll's worth (wait, check, choice) more than without it, and the end is noticed as usual.
    assert early.state_transitions <= plain.state_transitions + 3
    assert 0 <= detection_latency(early) <= 0.1 * EXPORT_SECONDS


def test_a_failed_export_is_reported_as_soon_as_its_event_comes() -> None:
    failed, account = run(EventDelivery(delay_seconds=5.0), ExportBehaviour(duration_seconds=EXPORT_SECONDS, outcome="failed",
                                                                            failure_cause="S3 credential check failed"))
    assert (failed.status, failed.error) == ("FAILED", "ExportFailed")
    [delivery] = account.events.deliveries
    assert delivery.event["detail"]["EventID"] == "RDS-EVENT-0162"
    assert 5.0 <= detection_latency(failed) <= 6.0


def test_when_the_token_cannot_be_left_the_run_polls_without_events() -> None:
    # S3 refuses the first wait's token, and its three retries: that wait lasts its full interval.
    refused, _ = run(EventDelivery(delay_seconds=5.0), faults=["s3:PutObject:AccessDenied:4"])
    assert refused.status == "SUCCEEDED", refused.cause
    assert refused.states.count("WaitForExportWithoutEvent") == 1
    assert 5.0 <= detection_latency(refused) <= 6.0


def test_the_rule_takes_every_export_end_of_this_account_and_region_and_nothing_else() -> None:
    # The events name no export task and AWS Backup names carry no cluster: which exports are this
    # stack's is decided by the tokens its waits left (tests/handlers/test_wake_export_wait.py).
    with EmulatedAccount(handler_output=io.StringIO()) as account:
        rule = account.template.resolve(account.template.resources["ExportFinishedRule"]["Properties"])
        pattern = EventPattern(None, rule["EventPattern"])
        base = "arn:aws:rds:us-east-1:123456789012"

        def event(source_arn: str, status: str = "COMPLETE") -> dict[str, Any]:
            return export_finished_event(_Task(source_arn, status), account.clock.now(), "us-east-1", "123456789012")

        taken = [
            f"{base}:cluster-snapshot:demo-aurora-cluster-lake-0123456789ab",
            f"{base}:cluster-snapshot:rds:demo-aurora-cluster-2026-11-01-03-10",
            f"{base}:cluster-snapshot:awsbackup:job-0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9",
            f"{base}:cluster-snapshot:forbidden-cluster-manual-2026-11-01",
            f"{base}:cluster:demo-aurora-cluster",
            # DB snapshot exports (RDS-EVENT-0159, 0160, 0161).
            f"{base}:snapshot:demo-mariadb-db-lake-0123456789ab",
            f"{base}:snapshot:rds:demo-postgres-db-2026-11-01-04-20",
            f"{base}:snapshot:awsbackup:job-6b1e4f0c-2d7a-4e93-8c15-0f9a3b7d2e64",
        ]
        for arn in taken:
            for status in ("COMPLETE", "FAILED", "CANCELED"):
                assert pattern.matches_event(event(arn, status)), (arn, status)
        refused = [
            "arn:aws:rds:eu-west-1:123456789012:cluster-snapshot:demo-aurora-cluster-lake-0123456789ab",
            "arn:aws:rds:us-east-1:210987654321:cluster-snapshot:demo-aurora-cluster-lake-0123456789ab",
        ]
        for arn in refused:
            assert not pattern.matches_event(event(arn)), arn
        # A DB snapshot export's end comes as a DB snapshot event, with its own IDs.
        instance = event(f"{base}:snapshot:db-1")
        assert (instance["detail-type"], instance["detail"]["EventID"]) == ("RDS DB Snapshot Event", "RDS-EVENT-0161")
        # Another event of a DB snapshot (created, RDS-EVENT-0042) wakes nothing.
        created = instance | {"detail": instance["detail"] | {"EventID": "RDS-EVENT-0042"}}
        assert not pattern.matches_event(created)
        snapshot_created = event(taken[0]) | {"detail": event(taken[0])["detail"] | {"EventID": "RDS-EVENT-0075"}}
        assert not pattern.matches_event(snapshot_created)
        assert not pattern.matches_event(event(taken[0]) | {"source": "custom.rds"})


class _Task:
    """Just what export_finished_event reads from a task."""

    def __init__(self, source_arn: str, status: str = "COMPLETE") -> None:
        self.source_arn = source_arn
        self.status = status
        self.export_task_identifier = "not-a-task"


def test_the_sample_event_is_what_the_emulated_rds_sends_and_the_rule_takes() -> None:
    from pathlib import Path

    sample = json.loads((Path(__file__).resolve().parents[2] / "events" / "functions" / "wake_export_wait.json").read_text())
    emitted = export_finished_event(_Task(sample["detail"]["SourceArn"]), 0.0, sample["region"], sample["account"])
    assert set(sample) == set(emitted) and set(sample["detail"]) == set(emitted["detail"])
    assert {k: sample["detail"][k] for k in ("EventID", "SourceArn", "SourceIdentifier", "SourceType", "Message")} == {
        k: emitted["detail"][k] for k in ("EventID", "SourceArn", "SourceIdentifier", "SourceType", "Message")
    }
    with EmulatedAccount(handler_output=io.StringIO()) as account:
        rule = account.template.resolve(account.template.resources["ExportFinishedRule"]["Properties"])
    assert EventPattern(None, rule["EventPattern"]).matches_event(sample)


def test_a_direct_cluster_export_is_woken_by_its_db_cluster_event() -> None:
    with EmulatedAccount(
        export=ExportBehaviour(duration_seconds=EXPORT_SECONDS), export_events=EventDelivery(delay_seconds=5.0), handler_output=io.StringIO()
    ) as account:
        woken = account.run({"cluster_identifier": "demo-aurora-cluster", "export_cluster_directly": True})
        deliveries = account.events.deliveries
    assert woken.status == "SUCCEEDED", woken.cause
    [task] = woken.export_tasks
    assert task["source_arn"] == "arn:aws:rds:us-east-1:123456789012:cluster:demo-aurora-cluster"
    [delivery] = deliveries
    assert (delivery.event["detail-type"], delivery.event["detail"]["EventID"]) == ("RDS DB Cluster Event", "RDS-EVENT-0236")
    assert delivery.result["woken"] == [task["id"]]
    assert 5.0 <= detection_latency(woken) <= 6.0
