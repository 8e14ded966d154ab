"""AWS Backup recovery points found the way AWS's export sample finds them: by name first.

Each form that names a recovery point (an execution input's ``snapshot_arn``, an AWS Backup job
event, an RDS snapshot-created event) reaches CheckSnapshot as the snapshot's ARN. RDS needs
SnapshotType only for automated snapshots (the RDS model), so the recovery point is described by
its name alone; should RDS find it only with SnapshotType ``awsbackup``, the second lookup does.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from emulated_account import EmulatedAccount
from emulated_account.account import AWS_BACKUP_SNAPSHOT, DB_AWS_BACKUP_SNAPSHOT
from emulated_account.eventbridge_sim import apply_input_transformer

EVENTS = Path(__file__).resolve().parents[2] / "events"
ARN = "arn:aws:rds:us-east-1:123456789012:"
KINDS = {
    # kind: (recovery point, its ARN, the source's ARN, AWS Backup resourceType, snapshot rule, event sample, describe operation)
    "DB snapshot": (DB_AWS_BACKUP_SNAPSHOT, ARN + "snapshot:" + DB_AWS_BACKUP_SNAPSHOT, ARN + "db:demo-mariadb-db", "RDS",
                    "DBSnapshotCreatedRule", "rds-db-snapshot-created-event.json", "DescribeDBSnapshots", "RDS-EVENT-0042"),
    "cluster snapshot": (AWS_BACKUP_SNAPSHOT, ARN + "cluster-snapshot:" + AWS_BACKUP_SNAPSHOT, ARN + "cluster:demo-aurora-cluster", "Aurora",
                         "SnapshotCreatedRule", "rds-cluster-snapshot-created-event.json", "DescribeDBClusterSnapshots", "RDS-EVENT-0075"),
}
PARAMETERS = {"EnableAwsBackupTrigger": "true", "EnableSnapshotEventTrigger": "true", "SnapshotEventTypes": "both"}


def _sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def _through_rule(emulated: EmulatedAccount, rule_name: str, event: dict[str, Any]) -> dict[str, Any]:
    """The execution input the stack's rule sends for ``event`` (the rule must match it)."""
    rule = emulated.template.resolve(emulated.template.resources[rule_name]["Properties"])
    assert EventPattern(None, rule["EventPattern"]).matches_event(event), rule_name
    [target] = rule["Targets"]
    return json.loads(apply_input_transformer(target["InputTransformer"], event))


def _given(emulated: EmulatedAccount, kind: str, form: str) -> dict[str, Any]:
    name, arn, resource, resource_type, snapshot_rule, sample, _, event_id = KINDS[kind]
    if form == "snapshot_arn":
        return {"snapshot_arn": arn}
    if form == "AWS Backup job event":
        event = copy.deepcopy(_sample("aws-backup-job-completed-event.json"))
        event["resources"] = [resource]
        event["detail"].update(recoveryPointArn=arn, resourceArn=resource, resourceType=resource_type)
        return _through_rule(emulated, "AwsBackupJobCompletedRule", event)
    # AWS Backup's snapshot is announced as a manual snapshot created (aws-samples' export pipeline).
    event = copy.deepcopy(_sample(sample))
    event["resources"] = [arn]
    event["detail"].update(SourceIdentifier=name, SourceArn=arn, EventID=event_id, Message="Manual snapshot created")
    return _through_rule(emulated, snapshot_rule, event)


@pytest.mark.parametrize("form", ["snapshot_arn", "AWS Backup job event", "snapshot-created event"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_recovery_point_is_described_by_its_name_alone_whatever_names_it(kind: str, form: str) -> None:
    name, arn, *_, operation, _ = KINDS[kind]
    with EmulatedAccount(parameters=PARAMETERS) as emulated:
        given = _given(emulated, kind, form)
        result = emulated.run(given)
        lookups = [call.params for call in emulated.calls.calls if call.caller == "CheckSnapshotFunction" and call.operation == operation]
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    [export] = result.export_tasks
    assert export["source_arn"] == arn and result.snapshots_created == []
    parameter = "DBSnapshotIdentifier" if kind == "DB snapshot" else "DBClusterSnapshotIdentifier"
    assert lookups and all(params == {parameter: name} for params in lookups), lookups


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_recovery_point_rds_finds_only_by_its_type_is_found_on_the_second_lookup(kind: str) -> None:
    name, arn, *_, operation, _ = KINDS[kind]
    with EmulatedAccount() as emulated:
        emulated.rds.aws_backup_found_by_name = False
        result = emulated.run({"snapshot_arn": arn})
        lookups = [call.params for call in emulated.calls.calls if call.caller == "CheckSnapshotFunction" and call.operation == operation]
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    [export] = result.export_tasks
    assert export["source_arn"] == arn
    parameter = "DBSnapshotIdentifier" if kind == "DB snapshot" else "DBClusterSnapshotIdentifier"
    assert lookups[:2] == [{parameter: name}, {parameter: name, "SnapshotType": "awsbackup"}]


def test_the_emulated_rds_answers_a_lookup_by_name_as_the_model_says() -> None:
    """A name alone finds a manual snapshot and a recovery point, never an automated snapshot (its type is required)."""
    with EmulatedAccount() as emulated:
        rds = emulated.client("rds")
        assert rds.describe_db_snapshots(DBSnapshotIdentifier=DB_AWS_BACKUP_SNAPSHOT)["DBSnapshots"][0]["SnapshotType"] == "awsbackup"
        assert rds.describe_db_snapshots(DBSnapshotIdentifier="demo-mysql-db-manual-2026-11-01")["DBSnapshots"]
        automated = "rds:demo-postgres-db-2026-11-01-04-20"
        with pytest.raises(rds.exceptions.DBSnapshotNotFoundFault):
            rds.describe_db_snapshots(DBSnapshotIdentifier=automated)
        assert rds.describe_db_snapshots(DBSnapshotIdentifier=automated, SnapshotType="automated")["DBSnapshots"]
        emulated.rds.aws_backup_found_by_name = False
        with pytest.raises(rds.exceptions.DBSnapshotNotFoundFault):
            rds.describe_db_snapshots(DBSnapshotIdentifier=DB_AWS_BACKUP_SNAPSHOT)
        assert rds.describe_db_snapshots(DBSnapshotIdentifier=DB_AWS_BACKUP_SNAPSHOT, SnapshotType="awsbackup")["DBSnapshots"]
