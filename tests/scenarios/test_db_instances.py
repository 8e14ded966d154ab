"""RDS DB instances (MySQL, MariaDB, PostgreSQL) exported, catalogued and queried like clusters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from emulated_account import EmulatedAccount, ExecutionResult, data, lake_query
from emulated_account.account import DB_AWS_BACKUP_SNAPSHOT

from .conftest import account, glue_tables, routed

EVENTS = Path(__file__).resolve().parents[2] / "events"
DB_SNAPSHOT_ARN = "arn:aws:rds:us-east-1:123456789012:snapshot:"


def _event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def _db_snapshots(emulated: EmulatedAccount) -> list[str]:
    found = emulated.client("rds").describe_db_snapshots()["DBSnapshots"]
    return sorted(snapshot["DBSnapshotIdentifier"] for snapshot in found)


def _queried(emulated: EmulatedAccount, result: ExecutionResult) -> lake_query.QueryResult:
    """The notification's sample query, run over the exported files through the tables the run created."""
    sql = lake_query.sample_query(result.notifications[-1]["message"])
    assert sql, result.notifications[-1]["message"]
    return lake_query.run_query(sql, emulated.client("glue"), emulated.client("s3"), "aurora_lake")


@pytest.mark.parametrize(
    ("given", "instance", "source_arn", "takes_a_snapshot"),
    [
        ("db-instance.json", "demo-mariadb-db", None, True),
        ("db-instance-automated-snapshot.json", "demo-postgres-db", DB_SNAPSHOT_ARN + "rds:demo-postgres-db-2026-11-01-04-20", False),
        ("db-instance-aws-backup-snapshot.json", "demo-mariadb-db", DB_SNAPSHOT_ARN + DB_AWS_BACKUP_SNAPSHOT, False),
        ("db-instance-latest-automated-snapshot.json", "demo-postgres-db", DB_SNAPSHOT_ARN + "rds:demo-postgres-db-2026-11-01-04-20", False),
    ],
    ids=["new DB snapshot", "automated DB snapshot", "AWS Backup DB snapshot", "newest automated DB snapshot"],
)
def test_each_kind_of_db_snapshot_is_exported_and_queried(given: str, instance: str, source_arn: str | None, takes_a_snapshot: bool) -> None:
    with account() as emulated:
        before = _db_snapshots(emulated)
        result = emulated.run(_event(given))
        queried = _queried(emulated, result) if result.status == "SUCCEEDED" else None
        catalogued = glue_tables(emulated)
        after = _db_snapshots(emulated)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    [export] = result.export_tasks
    if takes_a_snapshot:
        [snapshot] = result.snapshots_created
        assert snapshot.startswith(f"{instance}-lake-")
        assert export["source_arn"] == DB_SNAPSHOT_ARN + snapshot
        assert "CleanUpSnapshot" in result.states and after == before  # taken, exported, deleted
    else:
        assert result.snapshots_created == [] and after == before  # a given DB snapshot is never deleted
        assert export["source_arn"] == source_arn
    assert export["source_type"] == "SNAPSHOT" and export["status"] == "COMPLETE"
    # Tables follow today's pattern with the DB instance's name.
    tables = [table.name for table in data.db_instance(instance).tables]
    created = {name: table for name, table in catalogued.items() if name.startswith(f"{instance.replace('-', '_')}__")}
    assert sorted(name.rsplit("__", 1)[-1] for name in created) == sorted(tables)
    assert all(table["Parameters"]["table_type"] == "ICEBERG" for table in created.values())
    assert queried is not None and queried.rows, "the sample query returns rows"
    message = result.notifications[-1]["message"]
    assert f"DB instance:   {instance}" in message


def test_mariadb_types_reach_athena_exactly() -> None:
    with account() as emulated:
        result = emulated.run(_event("db-instance.json"))
        catalogued = glue_tables(emulated)
    assert result.status == "SUCCEEDED", (result.error, result.cause)

    def columns(table: str) -> set[tuple[str, str, str]]:
        [name] = [name for name in catalogued if name.endswith(f"__inventory__{table}")]
        return {(c["Name"], c["Type"], c.get("Comment", "")) for c in catalogued[name]["StorageDescriptor"]["Columns"]}

    # Athena's Iceberg tables have no tinyint or smallint: 8- to 24-bit integers are int; the source type is the comment.
    assert {("id", "decimal(20,0)", "bigint unsigned"), ("external_id", "string", "uuid"), ("gateway", "string", "inet6"),
            ("active", "int", "tinyint"), ("floor_plan", "binary", "mediumblob")} <= columns("warehouses")
    assert {("quantity", "int", "mediumint"), ("price", "decimal(12,2)", "decimal"), ("attributes", "string", "longtext"),
            ("updated_at", "timestamp", "datetime")} <= columns("stock_items")


@pytest.mark.parametrize(
    ("given", "error", "fragment"),
    [
        ({"db_instance_identifier": "forbidden-db"}, "DBInstanceNotAllowed", "AllowedDBInstanceIdentifiers"),
        ({"snapshot_arn": DB_SNAPSHOT_ARN + "forbidden-db-manual-2026-11-01"}, "DBInstanceNotAllowed", "forbidden-db"),
        ({"db_instance_identifier": "demo-custom-db"}, "SourceCannotExport", "RDS Custom"),
        ({"snapshot_arn": DB_SNAPSHOT_ARN + "rds:demo-custom-db-2026-11-01-04-20"}, "SourceCannotExport", "custom-sqlserver-ee"),
        ({"db_instance_identifier": "demo-mariadb-db", "export_cluster_directly": True}, "InvalidInput", "only from a snapshot"),
    ],
    ids=["instance not allowed", "DB snapshot of an instance not allowed", "RDS Custom instance",
         "DB snapshot of an RDS Custom instance", "direct export of an instance"],
)
def test_what_may_or_cannot_be_exported_is_refused_with_nothing_created(given: dict[str, Any], error: str, fragment: str) -> None:
    with account() as emulated:
        before = _db_snapshots(emulated)
        result = emulated.run(given)
        after = _db_snapshots(emulated)
    assert (result.status, result.error) == ("FAILED", error), result.cause
    assert fragment in (result.cause or "")
    assert result.snapshots_created == [] and result.export_tasks == [] and before == after
    assert not [q for q in result.athena_queries if q.startswith("CREATE")]
    assert result.notifications and result.notifications[-1]["subject"].startswith("[aurora-lake] FAILED")


def test_a_new_db_snapshot_event_exports_that_snapshot() -> None:
    event = _event("rds-db-snapshot-created-event.json")
    with EmulatedAccount(parameters={"EnableSnapshotEventTrigger": "true"}) as emulated:
        assert emulated.template.is_created("DBSnapshotCreatedRule")
        rule = emulated.template.resolve(emulated.template.resources["DBSnapshotCreatedRule"]["Properties"])
        assert EventPattern(None, rule["EventPattern"]).matches_event(event), "the rule must match the sample event"
        [delivery], result = routed(emulated, event)
        started = emulated.client("stepfunctions").describe_execution(executionArn=delivery.result["execution_arn"])
    assert delivery.rule == "DBSnapshotCreatedRule"
    assert json.loads(started["input"]) == {"snapshot_arn": event["detail"]["SourceArn"], "trigger": "snapshot-event"}
    assert result is not None and result.status == "SUCCEEDED", (result.error, result.cause)
    [export] = result.export_tasks
    assert export["source_arn"] == event["detail"]["SourceArn"]


@pytest.mark.parametrize(
    ("identifier", "reason"),
    [
        # A DB snapshot of a DB instance this deployment may not export: the rule follows them all.
        ("rds:forbidden-db-2026-11-01-04-20", "not of a DB instance this deployment may export (AllowedDBInstanceIdentifiers)"),
        # The workflow's own DB snapshot, recognised by its exact name.
        ("demo-postgres-db-lake-0123456789ab", "taken by this workflow"),
    ],
)
def test_a_db_snapshot_trigger_this_deployment_does_not_act_on_starts_nothing(identifier: str, reason: str, caplog: pytest.LogCaptureFixture) -> None:
    event = _event("rds-db-snapshot-created-event.json")
    arn = "arn:aws:rds:us-east-1:123456789012:snapshot:" + identifier
    event["detail"].update(SourceIdentifier=identifier, SourceArn=arn, EventID="RDS-EVENT-0042")
    with EmulatedAccount(parameters={"EnableSnapshotEventTrigger": "true", "SnapshotEventTypes": "both"}) as emulated:
        rule = emulated.template.resolve(emulated.template.resources["DBSnapshotCreatedRule"]["Properties"])
        # No substring of a name decides: the rule passes every DB snapshot of the account.
        assert EventPattern(None, rule["EventPattern"]).matches_event(event), identifier
        [delivery], result = routed(emulated, event)
        rds_writes = [c for c in emulated.calls.calls if c.service == "rds" and not c.operation.startswith("Describe")]
        notifications = emulated.notifications()
    assert result is None and delivery.error_type is None and reason in delivery.result["ignored"]
    [ignored] = [r for r in caplog.records if r.getMessage() == "trigger ignored"]
    assert ignored.reason.startswith("snapshot " + identifier) and reason in ignored.reason  # type: ignore[attr-defined]
    assert notifications == [] and rds_writes == []


def test_no_db_snapshot_rule_without_allowed_db_instances() -> None:
    parameters = {"EnableSnapshotEventTrigger": "true", "AllowedDBInstanceIdentifiers": ""}
    with EmulatedAccount(parameters=parameters) as emulated:
        assert not emulated.template.is_created("DBSnapshotCreatedRule")
        result = emulated.run({"db_instance_identifier": "demo-mariadb-db"})
    assert (result.status, result.error) == ("FAILED", "DBInstanceNotAllowed")
    assert "allows no DB instances" in (result.cause or "")


def test_the_end_of_a_db_snapshot_export_wakes_the_wait() -> None:
    with account() as emulated:
        result = emulated.run(_event("db-instance-automated-snapshot.json"))
        woken = [call for call in emulated.calls.calls if call.caller == "WakeExportWaitFunction" and call.operation == "SendTaskSuccess"]
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert woken, "RDS-EVENT-0161 of the DB snapshot handed the wait its token back"
