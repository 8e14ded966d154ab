"""The trigger router: every snapshot and AWS Backup event, through the template's rules, to at most
one export per snapshot; ignored events start nothing; forged events are refused loudly.

Events are delivered by the emulated EventBridge to the rules exactly as template.yaml declares
them, and the router's real handler starts the real export state machine.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from aurora_lake import naming
from emulated_account import EmulatedAccount
from emulated_account.account import DB_AWS_BACKUP_SNAPSHOT

from .conftest import routed

EVENTS = Path(__file__).resolve().parents[2] / "events"
ACCOUNT = "123456789012"
DB_RECOVERY_POINT = f"arn:aws:rds:us-east-1:{ACCOUNT}:snapshot:{DB_AWS_BACKUP_SNAPSHOT}"
EVERY_TRIGGER = {"EnableSnapshotEventTrigger": "true", "SnapshotEventTypes": "both", "EnableAwsBackupTrigger": "true"}


def _event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def _db_backup_events() -> tuple[dict[str, Any], dict[str, Any]]:
    """The two events one AWS Backup recovery point of a DB instance brings: AWS Backup's job event
    and RDS's "manual snapshot created" event about the same DB snapshot."""
    job = _event("aws-backup-job-completed-event.json")
    job["detail"].update(resourceType="RDS", recoveryPointArn=DB_RECOVERY_POINT,
                         resourceArn=f"arn:aws:rds:us-east-1:{ACCOUNT}:db:demo-mariadb-db")
    created = _event("rds-db-snapshot-created-event.json")
    created["detail"].update(SourceArn=DB_RECOVERY_POINT, SourceIdentifier=DB_AWS_BACKUP_SNAPSHOT, EventID="RDS-EVENT-0042",
                             Message="Manual snapshot created")
    created["resources"] = [DB_RECOVERY_POINT]
    return job, created


def _executions(emulated: EmulatedAccount) -> list[dict[str, Any]]:
    return emulated.client("stepfunctions").list_executions(stateMachineArn=emulated.state_machine_arn)["executions"]


def _metric(output: str, name: str) -> float:
    total = 0.0
    for line in output.splitlines():
        if line.startswith("{") and f'"{name}"' in line and '"_aws"' in line:
            value = json.loads(line)[name]
            total += sum(value) if isinstance(value, list) else value
    return total


def test_one_aws_backup_recovery_point_starts_one_run_whichever_events_arrive() -> None:
    job, created = _db_backup_events()
    output = io.StringIO()
    with EmulatedAccount(parameters=EVERY_TRIGGER, handler_output=output) as emulated:
        [from_backup], result = routed(emulated, job)
        [from_rds], again = routed(emulated, created)  # RDS's own event about the same DB snapshot, after the run
        executions = _executions(emulated)
    assert from_backup.rule == "AwsBackupJobCompletedRule" and from_rds.rule == "DBSnapshotCreatedRule"
    assert result is not None and result.status == "SUCCEEDED", (result.error, result.cause)
    [export] = result.export_tasks
    assert export["source_arn"] == DB_RECOVERY_POINT
    # The second event finds the run the first started: one execution, named after the snapshot.
    name = naming.trigger_execution_name(DB_RECOVERY_POINT)
    assert again is None and from_rds.result == {"already_started": name} and from_rds.error_type is None
    assert [e["name"] for e in executions] == [name]
    assert (_metric(output.getvalue(), "TriggersStarted"), _metric(output.getvalue(), "TriggersAlreadyStarted")) == (1.0, 1.0)


def test_both_events_at_once_still_start_one_run() -> None:
    job, created = _db_backup_events()
    with EmulatedAccount(parameters=EVERY_TRIGGER) as emulated:
        assert emulated.events is not None
        now = emulated.clock.now()
        emulated.events.put_event(created, now)
        emulated.events.put_event(job, now)
        emulated.events.deliver_due()
        deliveries = list(emulated.events.deliveries)
        started = emulated.events.executions_started()
        result = emulated.wait(started[0])
        executions = _executions(emulated)
    assert [d.rule for d in deliveries] == ["DBSnapshotCreatedRule", "AwsBackupJobCompletedRule"]
    # The first is still running when the second comes: its input differs, so the name refuses it.
    assert deliveries[1].result == {"already_started": naming.trigger_execution_name(DB_RECOVERY_POINT)}
    assert len(executions) == 1 and result.status == "SUCCEEDED", (result.error, result.cause)


def test_a_replayed_event_starts_nothing_new() -> None:
    event = _event("rds-cluster-snapshot-created-event.json")
    with EmulatedAccount(parameters={"EnableSnapshotEventTrigger": "true"}) as emulated:
        events = emulated.events
        assert events is not None
        # Lambda may run one event twice, and EventBridge may deliver it twice. While the run goes on
        # (same name, same input) StartExecution returns the running execution ...
        events.put_event(event, emulated.clock.now())
        events.put_event(event, emulated.clock.now())
        events.deliver_due()
        first, second = [d.result for d in events.deliveries if d.rule == "SnapshotCreatedRule"]
        result = emulated.wait(first["execution_arn"])
        # ... and once it has ended, the name is taken: nothing starts.
        events.put_event(event, emulated.clock.now())
        events.deliver_due()
        replay = [d.result for d in events.deliveries if d.rule == "SnapshotCreatedRule"][-1]
        executions = _executions(emulated)
    assert first == second and first["execution_name"] == naming.trigger_execution_name(event["detail"]["SourceArn"])
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert replay == {"already_started": first["execution_name"]}
    assert len(executions) == 1 and len(result.export_tasks) == 1


def test_a_forged_event_is_refused_loudly_and_starts_nothing() -> None:
    event = _event("rds-cluster-snapshot-created-event.json")
    # It matches the rule (an ARN of this account's cluster snapshots) but names no valid snapshot.
    forged_arn = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:demo-aurora-cluster\n\"trigger\": \"x\""
    event["detail"].update(SourceArn=forged_arn)
    with EmulatedAccount(parameters={"EnableSnapshotEventTrigger": "true"}) as emulated:
        [delivery], result = routed(emulated, event)
        executions = _executions(emulated)
        dead_letters = emulated.events.function_dead_letters  # type: ignore[union-attr]
    assert result is None and executions == []
    assert delivery.error_type == "InvalidInput"
    # Raised, so Lambda retried it and kept it in the trigger dead-letter queue (alarmed): never dropped.
    [dead] = dead_letters
    assert (dead.function, dead.attempts, dead.event) == ("RouteTriggerFunction", 3, event)
    assert dead.queue_arn is not None and dead.queue_arn.endswith(":" + str(emulated.template.physical_name("TriggerDeadLetterQueue")))


def test_an_ignored_aws_backup_job_of_a_db_instance_not_allowed_starts_nothing() -> None:
    job, _ = _db_backup_events()
    with EmulatedAccount(parameters={**EVERY_TRIGGER, "AllowedDBInstanceIdentifiers": "demo-postgres-db"}) as emulated:
        # The recovery point's name carries no DB instance: the run reads it and ends quietly.
        [delivery], result = routed(emulated, job)
    assert delivery.error_type is None
    assert result is not None and (result.status, result.states[-1]) == ("SUCCEEDED", "TriggerIgnored"), (result.error, result.cause)
    assert result.export_tasks == [] and result.notifications == []
