"""One lake for the organization, end to end: the lake account and the emulated organization's
accounts, with template.yaml deployed in the lake and source-account.yaml reaching the accounts of
the Workloads OU as a stack set.

Exports of source accounts land in the lake bucket under their account's folder and become
tables named with the account; the held-out attempts (a source that did not opt in, a snapshot of
another account, an event forged outside the organization, an event of one source account about
another's snapshot) are each refused with nothing created anywhere; onboarding an account and a
database changes nothing in the lake, and removing the tag or leaving the OU stops it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aurora_lake.naming import DRIFT_LOG_TABLE
from emulated_account import EmulatedAccount, data

ORDERS, BILLING = data.SOURCE_ACCOUNT_IDS
STRANGER = data.STRANGER_ACCOUNT_ID
EVENTS = Path(__file__).resolve().parents[2] / "events"
ORGANIZATION = {"OrganizationId": data.ORGANIZATION_ID, "SourceOrganizationalUnitIds": data.WORKLOADS_OU}
SANDBOX = data.SANDBOX_ACCOUNT_ID


def _snapshot_arn(account: str, name: str) -> str:
    return f"arn:aws:rds:us-east-1:{account}:cluster-snapshot:{name}"


def _snapshot_created(account: str, snapshot_name: str) -> dict[str, Any]:
    """RDS's event for an automated cluster snapshot of ``account`` (the sample event, re-aimed)."""
    event: dict[str, Any] = json.loads((EVENTS / "rds-cluster-snapshot-created-event.json").read_text())
    arn = _snapshot_arn(account, snapshot_name)
    event["account"], event["resources"] = account, [arn]
    event["detail"] |= {"SourceArn": arn, "SourceIdentifier": snapshot_name}
    return event


@pytest.fixture
def lake() -> Iterator[EmulatedAccount]:
    with EmulatedAccount(parameters=ORGANIZATION, handler_output=io.StringIO()) as account:
        yield account


@pytest.fixture
def triggered_lake() -> Iterator[EmulatedAccount]:
    """The lake with its snapshot event trigger on: snapshot events of the source accounts start exports."""
    with EmulatedAccount(parameters={**ORGANIZATION, "EnableSnapshotEventTrigger": "true"}, handler_output=io.StringIO()) as account:
        yield account


def _tables(account: EmulatedAccount) -> list[str]:
    """The tables of exported tables (the drift log's one table, over every source's exports, is the stack's)."""
    glue = account.client("glue")
    return sorted(t["Name"] for t in glue.get_tables(DatabaseName=str(account.ref("GlueDatabase")))["TableList"] if t["Name"] != DRIFT_LOG_TABLE)


def _exported_keys(account: EmulatedAccount) -> list[str]:
    listed = account.client("s3").list_objects_v2(Bucket=account.bucket, Prefix="exports/")
    return [item["Key"] for item in listed.get("Contents", [])]


def _assert_nothing_created(account: EmulatedAccount) -> None:
    assert account.snapshots_created() == []
    assert account.export_tasks() == []
    assert _tables(account) == []
    assert _exported_keys(account) == []


def _executions_started_by_events(account: EmulatedAccount) -> list[str]:
    assert account.events is not None
    return account.events.executions_started()


def test_a_source_account_cluster_is_exported_into_the_lake_under_its_account(lake: EmulatedAccount) -> None:
    result = lake.run({"account_id": ORDERS, "cluster_identifier": "orders-aurora"})
    assert result.status == "SUCCEEDED", result.cause
    [task] = lake.export_tasks()
    assert task["account_id"] == ORDERS and task["status"] == "COMPLETE"
    assert task["iam_role_arn"] == f"arn:aws:iam::{ORDERS}:role/aurora-lake-source-export-us-east-1"
    assert f"{task['s3_prefix']}/".startswith(f"exports/accounts/{ORDERS}/")
    # The snapshot was taken and deleted in the source account, not in the lake's.
    assert lake.snapshots_created() == [f"{ORDERS}:{name}" for name in lake.source_rds[ORDERS].snapshots_created]
    assert {key.split("/")[2] for key in _exported_keys(lake)} == {ORDERS}
    # Every table (and any archived history, "_" + table + "__N") carries the account.
    assert _tables(lake) and all(name.lstrip("_").startswith(f"{ORDERS}__orders_aurora__") for name in _tables(lake))


def test_clusters_of_one_name_in_the_lake_and_a_source_account_never_share_a_table(lake: EmulatedAccount) -> None:
    own = lake.run({"cluster_identifier": "demo-aurora-cluster"})
    assert own.status == "SUCCEEDED", own.cause
    theirs = lake.run({"account_id": ORDERS, "cluster_identifier": "demo-aurora-cluster"})
    assert theirs.status == "SUCCEEDED", theirs.cause
    tables = _tables(lake)
    own_tables = {t for t in tables if t.lstrip("_").startswith("demo_aurora_cluster__")}
    their_tables = {t for t in tables if t.lstrip("_").startswith(f"{ORDERS}__demo_aurora_cluster__")}
    assert own_tables and their_tables and own_tables | their_tables == set(tables)


@pytest.mark.parametrize(
    "execution_input",
    [
        pytest.param({"account_id": ORDERS, "cluster_identifier": "orders-secrets"}, id="cluster-opted-in-to-another-lake"),
        pytest.param({"account_id": BILLING, "cluster_identifier": "billing-payroll"}, id="cluster-not-opted-in"),
        pytest.param({"account_id": ORDERS, "db_instance_identifier": "orders-hr-db"}, id="db-instance-not-opted-in"),
        pytest.param({"account_id": BILLING, "cluster_identifier": "orders-aurora"}, id="opted-in-cluster-named-in-the-wrong-account"),
        pytest.param({"snapshot_arn": _snapshot_arn(ORDERS, "orders-secrets-manual-2026-11-01")}, id="snapshot-of-a-cluster-not-opted-in"),
        pytest.param({"snapshot_arn": _snapshot_arn(BILLING, "rds:billing-reports-2026-11-01-03-10")}, id="automated-snapshot-without-the-tag"),
        pytest.param({"account_id": ORDERS, "snapshot_arn": _snapshot_arn(BILLING, "rds:billing-aurora-2026-11-01-03-10")}, id="snapshot-of-another-account"),
        pytest.param({"snapshot_arn": _snapshot_arn(STRANGER, "rds:orders-aurora-2026-11-01-03-10")}, id="snapshot-of-an-account-outside-the-organization"),
        pytest.param({"account_id": SANDBOX, "cluster_identifier": "sandbox-aurora"}, id="opted-in-cluster-of-an-account-outside-the-ou"),
    ],
)
def test_held_out_inputs_across_accounts_are_refused_with_nothing_created(lake: EmulatedAccount, execution_input: dict[str, Any]) -> None:
    result = lake.run(execution_input)
    assert result.status == "FAILED", result.output
    assert result.error in ("SourceNotOptedIn", "InvalidInput", "AccessDenied"), (result.error, result.cause)
    if result.error == "SourceNotOptedIn":
        assert "aurora-lake:export" in str(result.cause) or "does not exist" in str(result.cause)
    _assert_nothing_created(lake)


def test_a_snapshot_event_of_a_source_account_reaches_the_lake_and_exports_it(triggered_lake: EmulatedAccount) -> None:
    assert triggered_lake.events is not None
    triggered_lake.events.put_source_event(ORDERS, _snapshot_created(ORDERS, "rds:orders-aurora-2026-11-01-03-10"), triggered_lake.clock.now())
    triggered_lake.events.wait(60)
    [execution] = _executions_started_by_events(triggered_lake)
    result = triggered_lake.wait(execution)
    assert result.status == "SUCCEEDED", result.cause
    assert [t["account_id"] for t in triggered_lake.export_tasks()] == [ORDERS]


def test_an_event_forged_in_a_third_account_never_reaches_the_lake(triggered_lake: EmulatedAccount) -> None:
    assert triggered_lake.events is not None
    forged = _snapshot_created(ORDERS, "rds:orders-aurora-2026-11-01-03-10")
    assert triggered_lake.events.put_event_from(STRANGER, forged, triggered_lake.clock.now()) is False
    triggered_lake.events.wait(60)
    assert _executions_started_by_events(triggered_lake) == []
    _assert_nothing_created(triggered_lake)


def test_an_event_of_one_source_account_about_another_s_snapshot_is_refused(triggered_lake: EmulatedAccount) -> None:
    assert triggered_lake.events is not None
    # Account 111111111111 forwards an event naming a snapshot of 222222222222: the lake's bus takes
    # it (111111111111 is a source), the trigger router refuses the snapshot of another account
    # loudly: no run starts, and the event ends in the trigger dead-letter queue after Lambda's retries.
    forged = _snapshot_created(BILLING, "rds:billing-aurora-2026-11-01-03-10")
    triggered_lake.events.put_source_event(ORDERS, forged, triggered_lake.clock.now())
    triggered_lake.events.wait(60)
    assert _executions_started_by_events(triggered_lake) == []
    [dead] = triggered_lake.events.function_dead_letters
    assert (dead.function, dead.error_type, dead.attempts) == ("RouteTriggerFunction", "InvalidInput", 3)
    assert dead.queue_arn == triggered_lake.template.get_att("TriggerDeadLetterQueue", "Arn")
    _assert_nothing_created(triggered_lake)


def _lake_state(account: EmulatedAccount) -> str:
    """Everything of the lake stack that onboarding could change: its template, parameters, resource policies, role policies, environments."""
    assert account.organization is not None
    return account.lake_stack_state()


def test_an_account_and_a_database_are_onboarded_with_no_change_to_the_lake(lake: EmulatedAccount) -> None:
    org = lake.organization
    assert org is not None
    before = _lake_state(lake)
    # The sandbox account's opted-in cluster: refused while the account is outside the OU.
    refused = lake.run({"account_id": SANDBOX, "cluster_identifier": "sandbox-aurora"})
    assert refused.status == "FAILED" and SANDBOX not in org.sources
    # The platform team moves the account into the Workloads OU: the stack set reaches it.
    org.move_account(SANDBOX, data.WORKLOADS_OU)
    assert SANDBOX in org.sources
    exported = lake.run({"account_id": SANDBOX, "cluster_identifier": "sandbox-aurora"})
    assert exported.status == "SUCCEEDED", exported.cause
    # A database owner opts a DB instance in: exported from then on.
    instance = "arn:aws:rds:us-east-1:111111111111:db:orders-hr-db"
    assert lake.run({"account_id": ORDERS, "db_instance_identifier": "orders-hr-db"}).error == "SourceNotOptedIn"
    lake.client("rds", ORDERS).add_tags_to_resource(ResourceName=instance, Tags=[{"Key": "aurora-lake:export", "Value": "aurora-lake"}])
    db = lake.run({"account_id": ORDERS, "db_instance_identifier": "orders-hr-db"})
    assert db.status == "SUCCEEDED", db.cause
    assert _lake_state(lake) == before  # byte-identical: no lake stack update


def test_removing_the_tag_or_leaving_the_ou_stops_exports(lake: EmulatedAccount) -> None:
    org = lake.organization
    assert org is not None
    cluster = "arn:aws:rds:us-east-1:222222222222:cluster:billing-aurora"
    lake.client("rds", BILLING).remove_tags_from_resource(ResourceName=cluster, TagKeys=["aurora-lake:export"])
    untagged = lake.run({"account_id": BILLING, "cluster_identifier": "billing-aurora"})
    assert untagged.error == "SourceNotOptedIn", untagged.cause
    lake.client("rds", BILLING).add_tags_to_resource(ResourceName=cluster, Tags=[{"Key": "aurora-lake:export", "Value": "aurora-lake"}])
    org.move_account(BILLING, data.SANDBOX_OU)  # leaves the OU: its stack instance is deleted
    assert BILLING not in org.sources
    assert not [r for r in lake.client("iam", BILLING).list_roles()["Roles"] if r["RoleName"].startswith("aurora-lake-source-")]
    gone = lake.run({"account_id": BILLING, "cluster_identifier": "billing-aurora"})
    assert gone.status == "FAILED" and "AccessDenied" in f"{gone.error} {gone.cause}", (gone.error, gone.cause)
    _assert_nothing_created(lake)


def test_a_db_snapshot_event_and_an_aws_backup_job_of_a_source_account_export(triggered_lake: EmulatedAccount) -> None:
    assert triggered_lake.events is not None
    event = _snapshot_created(ORDERS, "rds:orders-db-2026-11-01-04-20")
    event["detail-type"] = "RDS DB Snapshot Event"
    event["detail"] |= {"EventID": "RDS-EVENT-0091", "SourceArn": event["detail"]["SourceArn"].replace(":cluster-snapshot:", ":snapshot:")}
    event["resources"] = [event["detail"]["SourceArn"]]
    triggered_lake.events.put_source_event(ORDERS, event, triggered_lake.clock.now())
    triggered_lake.events.wait(60)
    [execution] = _executions_started_by_events(triggered_lake)
    result = triggered_lake.wait(execution)
    assert result.status == "SUCCEEDED", result.cause
    assert [t["source_arn"].split(":")[5] for t in triggered_lake.export_tasks()] == ["snapshot"]
