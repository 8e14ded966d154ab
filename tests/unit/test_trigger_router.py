"""The trigger router's logic: the input it builds, the one name per snapshot, what it ignores and refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from aurora_lake import naming, sources, triggers
from aurora_lake.errors import InvalidInput, InvalidTriggerEvent

EVENTS = Path(__file__).resolve().parents[2] / "events"
LAKE = "123456789012"
MACHINE = f"arn:aws:states:us-east-1:{LAKE}:stateMachine:aurora-lake-ExportStateMachine"
ARN = f"arn:aws:rds:us-east-1:{LAKE}:cluster-snapshot:rds:demo-aurora-cluster-2026-11-01-03-10"


def _event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture(autouse=True)
def deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_CLUSTERS", "demo-aurora-cluster")
    monkeypatch.setenv("ALLOWED_DB_INSTANCES", "demo-mariadb-db")
    monkeypatch.setenv("ORGANIZATION_ID", "o-a1b2c3d4e5")
    monkeypatch.setenv("AURORA_LAKE_STACK", "aurora-lake")


class Starts:
    """StartExecution as Step Functions answers it: a used name is ExecutionAlreadyExists."""

    def __init__(self) -> None:
        self.started: dict[str, str] = {}

    def __call__(self, name: str, execution_input: str) -> str:
        if name in self.started:
            raise ClientError({"Error": {"Code": "ExecutionAlreadyExists", "Message": name}}, "StartExecution")
        self.started[name] = execution_input
        return MACHINE.replace(":stateMachine:", ":execution:") + ":" + name


def route(event: dict[str, Any], start: Any = None) -> dict[str, Any]:
    return triggers.route(event, state_machine_arn=MACHINE, start=start or Starts())


def test_the_input_is_the_one_the_rules_input_transformers_built() -> None:
    snapshot, backup = _event("rds-cluster-snapshot-created-event.json"), _event("aws-backup-job-completed-event.json")
    assert triggers.export_input(snapshot, LAKE) == {"snapshot_arn": ARN, "trigger": "snapshot-event"}
    assert triggers.export_input(backup, LAKE) == {"aws_backup_job": backup["detail"], "trigger": "aws-backup"}
    # Another account's event carries that account: validation refuses it about any other account's snapshot.
    assert triggers.export_input({**snapshot, "account": "111111111111"}, LAKE)["event_account"] == "111111111111"


@pytest.mark.parametrize("event", [
    {"source": "aws.rds", "detail-type": "RDS DB Cluster Snapshot Event"},
    {"source": "aws.rds", "detail-type": "RDS DB Cluster Snapshot Event", "detail": {"EventID": "RDS-EVENT-0169"}},
    {"source": "aws.ec2", "detail-type": "RDS DB Cluster Snapshot Event", "detail": {"SourceArn": ARN}},
    {"source": "aws.backup", "detail-type": "Backup Plan State Change", "detail": {}},
    ["not", "an", "object"],
])
def test_an_event_that_is_no_snapshot_event_is_refused_loudly(event: Any) -> None:
    with pytest.raises(InvalidTriggerEvent):
        route(event)


def test_one_snapshot_starts_one_execution_whichever_events_arrive_and_however_often() -> None:
    starts = Starts()
    backup = _event("aws-backup-job-completed-event.json")
    recovery_point = backup["detail"]["recoveryPointArn"]
    created = _event("rds-cluster-snapshot-created-event.json")
    created["detail"].update(SourceArn=recovery_point.replace("job-", "JOB-"), EventID="RDS-EVENT-0075")
    first = route(backup, starts)
    assert first == {"execution_arn": first["execution_arn"], "execution_name": naming.trigger_execution_name(recovery_point)}
    # RDS's event about the same recovery point (its name in another case), then a replay of either.
    assert route(created, starts) == {"already_started": first["execution_name"]}
    assert route(backup, starts) == {"already_started": first["execution_name"]}
    assert list(starts.started) == [first["execution_name"]]


def test_execution_names_are_one_per_snapshot_and_valid() -> None:
    names = {
        naming.trigger_execution_name(arn)
        for arn in (ARN, ARN.replace(":cluster-snapshot:", ":snapshot:"), ARN.replace(LAKE, "111111111111"),
                    ARN.replace("us-east-1", "eu-west-1"), ARN + "x")
    }
    assert len(names) == 5
    long = f"arn:aws:rds:us-east-1:{LAKE}:cluster-snapshot:" + "a" * 255
    for name in (*names, naming.trigger_execution_name(long)):
        assert 1 <= len(name) <= 80 and all(ch.isascii() and (ch.isalnum() or ch == "-") for ch in name), name
    assert naming.trigger_execution_name(ARN) == naming.trigger_execution_name(ARN.replace("demo-aurora", "DEMO-aurora"))
    with pytest.raises(ValueError):
        naming.trigger_execution_name("arn:aws:rds:us-east-1:123456789012:cluster:not-a-snapshot")


@pytest.mark.parametrize(("identifier", "fragment"), [
    ("rds:forbidden-cluster-2026-11-01-03-10", "not of a cluster this deployment may export"),
    ("demo-aurora-cluster-lake-0123456789ab", "taken by this workflow"),
])
def test_a_snapshot_this_deployment_does_not_export_starts_nothing(identifier: str, fragment: str) -> None:
    starts = Starts()
    event = _event("rds-cluster-snapshot-created-event.json")
    event["detail"]["SourceArn"] = ARN.rsplit(":", 2)[0] + ":" + identifier
    result = route(event, starts)
    assert fragment in result["ignored"] and starts.started == {}


def test_the_opt_in_hook_is_asked_after_the_allow_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[dict[str, Any]] = []

    def refuse(source: sources.Source, job: dict[str, Any]) -> str:
        asked.append(job)
        return f"the owner of {source.label} {job.get('source_account')} has not opted in"

    monkeypatch.setattr(sources.Source, "opt_in_refusal", refuse)
    starts = Starts()
    event = _event("rds-cluster-snapshot-created-event.json")
    event["account"] = "111111111111"
    event["detail"]["SourceArn"] = ARN.replace(LAKE, "111111111111").replace("demo-aurora-cluster", "orders-aurora")
    assert route(event, starts) == {"ignored": "the owner of cluster 111111111111 has not opted in"}
    assert starts.started == {} and asked[0]["snapshot_arn"] == event["detail"]["SourceArn"]


def test_the_opt_in_hook_reads_the_source_accounts_tags_and_never_the_lakes(monkeypatch: pytest.MonkeyPatch) -> None:
    from aurora_lake import opt_in

    judged: list[dict[str, Any]] = []

    def job_refusal(job: dict[str, Any]) -> str | None:
        judged.append(job)
        return "snapshot x has not opted in to lake aurora-lake"

    monkeypatch.setattr(opt_in, "job_refusal", job_refusal)
    starts = Starts()
    event = _event("rds-cluster-snapshot-created-event.json")
    event["account"] = "111111111111"
    event["detail"]["SourceArn"] = ARN.replace(LAKE, "111111111111").replace("demo-aurora-cluster", "orders-aurora")
    assert route(event, starts) == {"ignored": "snapshot x has not opted in to lake aurora-lake"} and starts.started == {}
    # Judged as a start from an event (a snapshot the lake took itself is a reason too), in its own account.
    assert judged[0]["source_account"] == "111111111111" and judged[0]["trigger"] == "snapshot-event"
    # The lake's own snapshots are its allow-lists' to decide: no tag is read for them.
    assert route(_event("rds-cluster-snapshot-created-event.json"), starts)["execution_name"] and len(judged) == 1


def test_an_event_of_one_account_about_another_account_s_snapshot_is_refused() -> None:
    event = _event("rds-cluster-snapshot-created-event.json")
    event["account"] = "111111111111"  # forwarded by a source account, naming the lake's own snapshot
    with pytest.raises(InvalidInput, match="an event of account 111111111111 names a snapshot of account 123456789012"):
        route(event)


def test_a_start_step_functions_refuses_for_another_reason_is_raised() -> None:
    def throttled(name: str, execution_input: str) -> str:
        raise ClientError({"Error": {"Code": "ExecutionLimitExceeded", "Message": "too many"}}, "StartExecution")

    with pytest.raises(ClientError):
        route(_event("rds-cluster-snapshot-created-event.json"), throttled)
