"""Attacks by a database user (table, schema and column names) and by a caller (inputs, other
exports), each through the real state machine in the emulated account.

What must hold, whatever they try: no existing table changes owner, no versioned table
changes, no export lands in another table's or the stack's folder, tables that would
collide are left out while the rest are catalogued (PARTIAL), and every run notifies with
no line a stranger wrote.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from aurora_lake.naming import DRIFT_LOG_TABLE
from emulated_account import EmulatedAccount, data, lake_query
from emulated_account.data import Column, Table
from tests.security.test_notification_injection import assert_clean

CLUSTER = "demo-aurora-cluster"
INPUT = {"cluster_identifier": CLUSTER}
STRING = data.STRING


@pytest.fixture
def account() -> Iterator[EmulatedAccount]:
    with EmulatedAccount(handler_output=io.StringIO()) as emulated:
        yield emulated


def catalog(account: EmulatedAccount) -> dict[str, dict[str, Any]]:
    glue = account.client("glue")
    database = account.ref("GlueDatabase")
    tables: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {"DatabaseName": database}
    while True:
        page = glue.get_tables(**kwargs)
        for table in page["TableList"]:
            tables[table["Name"]] = {"Parameters": table.get("Parameters"), "StorageDescriptor": table.get("StorageDescriptor")}
        if not page.get("NextToken"):
            return tables
        kwargs["NextToken"] = page["NextToken"]


def table(name: str, *columns: tuple[str, str], schema: str = "public") -> Table:
    return Table("mydb", schema, name, tuple(Column(c, "text" if t == STRING else "bigint", t) for c, t in columns), rows=3)


def owner(entry: dict[str, Any]) -> tuple[Any, ...]:
    parameters = entry["Parameters"] or {}
    return tuple(parameters.get(f"aurora_lake.{key}") for key in ("stack", "source_account", "source_kind", "source_identifier", "source_table", "table_role"))


def versioned(tables: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Archived histories (``_{table}__N``) and 2.x versioned tables: names with a leading underscore."""
    return {name: entry for name, entry in tables.items() if name.startswith("_")}


def exported(tables: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The tables of exported tables (not the drift log's, which every run writes to)."""
    return {name: entry for name, entry in tables.items() if name != DRIFT_LOG_TABLE}


def exports_of(entry: dict[str, Any]) -> list[str | None]:
    """The exports of an Iceberg table's snapshots, oldest first."""
    return [export for export, _ in lake_query.iceberg_snapshots(entry)]


def reads_export(entry: dict[str, Any], export_id: str) -> bool:
    """Whether the table's current snapshot is that export, holding files of that export only."""
    files = lake_query.iceberg_data_files(entry)
    return exports_of(entry)[-1:] == [export_id] and bool(files) and all(f"/{export_id}/" in path for path in files)


def test_hostile_table_names_change_no_owner_and_no_history_and_leave_the_rest_catalogued(account: EmulatedAccount) -> None:
    first = account.run(INPUT)
    assert first.status == "SUCCEEDED", first.cause
    before = catalog(account)
    [first_task] = first.export_tasks
    spelled = first_task["id"].replace("-", "_")
    users_latest = f"demo_aurora_cluster__mydb__public__users"
    # The application's users: users is gone from the export (RDS skips it), Users appears;
    # a table spelled like the first export's versioned users table; a-b next to a_b; two
    # columns ID and id.
    kept = [t for t in data.POSTGRES_TABLES if t.name not in ("users", "orders")]
    account.rds.set_tables(CLUSTER, [
        *kept,
        table("Users", ("secret", STRING)),
        table(f"users__{spelled}", ("secret", STRING)),
        table(f"_demo_aurora_cluster__mydb__public__users__{spelled}", ("secret", STRING)),
        table("a-b", ("x", "int64")), table("a_b", ("x", "int64")),
        table("orders", ("ID", "int64"), ("id", "int64")),
    ])
    second = account.run(INPUT)
    after = catalog(account)
    assert second.status == "SUCCEEDED", second.cause
    [note] = second.notifications[-1:]
    assert note["subject"].startswith("[aurora-lake] PARTIAL")
    # History: no history was archived or rewritten; users (skipped) still reads the first export only.
    assert versioned(before) == versioned(after) == {}
    assert exports_of(after[users_latest]) == [first_task["id"]]
    # Owners: no table changed hands; users' latest table still reads the first export.
    assert all(owner(after[name]) == owner(entry) for name, entry in before.items())
    assert after[users_latest] == before[users_latest]
    # The colliding ones are left out, both named with what to rename; the rest moved on.
    for name in ("mydb.public.Users", "mydb.public.a-b", "mydb.public.a_b", "mydb.public.orders"):
        assert name in note["message"]
    assert "rename" in note["message"]
    [second_task] = [t for t in second.export_tasks if t["id"] != first_task["id"]]
    for source in kept:
        latest = "demo_aurora_cluster__mydb__public__" + source.name.lower().replace(" ", "_")
        assert reads_export(after[latest], second_task["id"]) and exports_of(after[latest]) == [first_task["id"], second_task["id"]], latest
    # The planted tables spelled like versioned ones are ordinary latest tables of their own.
    planted = f"demo_aurora_cluster__mydb__public__users__{spelled}"
    assert after[planted]["Parameters"]["aurora_lake.source_table"] == f"mydb.public.users__{spelled}"
    # Every table the stack wrote carries its record.
    assert all(owner(entry)[0] and owner(entry)[5] == "latest" for entry in exported(after).values())


def test_a_column_glue_refuses_leaves_its_table_as_it_was_and_moves_the_others(account: EmulatedAccount) -> None:
    first = account.run(INPUT)
    before = catalog(account)
    bad = table("orders", ("id", "int64"), ("bad\x01column", STRING), ("new\nline", STRING))
    account.rds.set_tables(CLUSTER, [*(t for t in data.POSTGRES_TABLES if t.name != "orders"), bad])
    second = account.run(INPUT)
    after = catalog(account)
    assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED"), second.cause
    orders = "demo_aurora_cluster__mydb__public__orders"
    assert after[orders] == before[orders]
    moved = [name for name in exported(after) if name != orders]
    [second_task] = [t for t in second.export_tasks if t not in first.export_tasks]
    assert moved and all(reads_export(after[name], second_task["id"]) for name in moved)
    message = second.notifications[-1]["message"]
    assert "mydb.public.orders: Glue would refuse it" in message
    assert_clean(message, [])


def test_a_schema_holding_a_slash_cannot_put_rows_into_another_tables_folder(account: EmulatedAccount) -> None:
    account.run(INPUT)
    before = catalog(account)
    nested = table("x", ("secret", STRING), schema="public.users/1")  # written under mydb/public.users/1.x/
    account.rds.set_tables(CLUSTER, [*data.POSTGRES_TABLES, nested])
    second = account.run(INPUT)
    after = catalog(account)
    assert second.status == "SUCCEEDED", second.cause
    users = "demo_aurora_cluster__mydb__public__users"
    # users' folder of this export holds the planted files: users stays on the first export.
    assert after[users] == before[users]
    assert not any((entry["Parameters"] or {}).get("aurora_lake.source_table") == "mydb.public.users/1.x" for entry in after.values())
    assert "holds '/'" in second.notifications[-1]["message"]


def test_names_the_metadata_cannot_place_are_left_out_and_the_rest_catalogued(account: EmulatedAccount) -> None:
    first = account.run(INPUT)
    before = catalog(account)
    # RDS names a table by its database, schema and table joined with ".": a table "x.", and
    # schema "a.b" with table "c" beside schema "a" with table "b.c" (both "mydb.a.b.c", both
    # written into mydb/a.b.c/), cannot be told apart from other tables.
    unplaceable = [
        table("x.", ("secret", STRING)),
        table("c", ("secret", STRING), schema="a.b"),
        table("b.c", ("id", "int64"), schema="a"),
    ]
    account.rds.set_tables(CLUSTER, [*data.POSTGRES_TABLES, *unplaceable])
    second = account.run(INPUT)
    after = catalog(account)
    assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED"), second.cause
    note = second.notifications[-1]
    assert note["subject"].startswith("[aurora-lake] PARTIAL")
    message = note["message"]
    assert "mydb.public.x.: the export's metadata cannot tell which table it is" in message
    assert "lists 2 tables as mydb.a.b.c" in message
    assert 'schema "a.b", table "c"' in message and 'schema "a", table "b.c"' in message
    # Every other table moved on to the second export; none of the three is in the catalog.
    [first_task] = first.export_tasks
    [second_task] = [t for t in second.export_tasks if t["id"] != first_task["id"]]
    for source in data.POSTGRES_TABLES:
        latest = "demo_aurora_cluster__mydb__public__" + source.name.lower().replace(" ", "_")
        assert reads_export(after[latest], second_task["id"]), latest
    sources = {(entry["Parameters"] or {}).get("aurora_lake.source_table") for entry in after.values()}
    assert not {"mydb.public.x.", "mydb.a.b.c"} & sources
    assert set(before) <= set(after)
    assert_clean(message, [])


def test_an_export_that_catalogues_no_table_is_reported_so_and_never_counts_as_fresh() -> None:
    output = io.StringIO()
    parameters = {"EnableSchedule": "true", "ScheduleClusterIdentifier": CLUSTER}
    with EmulatedAccount(parameters=parameters, handler_output=output) as emulated:
        emulated.rds.set_tables(CLUSTER, [table("x.", ("secret", STRING)), table("c", ("id", "int64"), schema="a.b"),
                                          table("b.c", ("id", "int64"), schema="a")])
        result = emulated.run(INPUT)
        tables = catalog(emulated)
    assert result.status == "SUCCEEDED", result.cause
    [note] = result.notifications
    assert note["subject"].startswith("[aurora-lake] PARTIAL") and "(0 tables)" in note["subject"]
    assert note["message"].startswith(f"The export of {CLUSTER} catalogued no table")
    assert not [name for name in exported(tables) if not name.startswith("_")]
    # The freshness alarm's metric is not published: the source is no fresher than before.
    assert '"ExportsSucceeded"' not in output.getvalue()
    assert '"PartialExports"' in output.getvalue()


@pytest.mark.parametrize(
    "prefix",
    [
        "exports/{first}/",  # another export's folder
        "exports/{first}/mydb/public.users/",  # another table's folder
        "athena-results/", "athena-plans/", "athena-catalog/", "export-waits/",  # the stack's own folders
        "other/", "exports/someone-elses-export/",
    ],
)
def test_a_prefix_outside_the_exports_area_or_inside_another_export_is_refused(account: EmulatedAccount, prefix: str) -> None:
    first = account.run(INPUT)
    keys_before = {o["Key"] for o in account.client("s3").list_objects_v2(Bucket=account.bucket).get("Contents", [])}
    refused = account.run({**INPUT, "s3_prefix": prefix.format(first=first.export_tasks[0]["id"])})
    keys_after = {o["Key"] for o in account.client("s3").list_objects_v2(Bucket=account.bucket).get("Contents", [])}
    assert (refused.status, refused.error) == ("FAILED", "InvalidInput")
    assert len(refused.export_tasks) == 1  # the first run's only
    assert {key for key in keys_after - keys_before if not key.startswith("athena-")} == set()
    assert refused.notifications[-1]["subject"].startswith("[aurora-lake] FAILED")


@pytest.mark.parametrize(
    "hostile",
    [
        "demo\n\nStatus:        SUCCEEDED\nrotate your keys at https://evil.example",
        "x\x00\x1b[2J\u2028Bcc: attacker@example.com",
    ],
)
def test_a_refused_input_notifies_with_no_line_or_attribute_of_its_own(account: EmulatedAccount, hostile: str) -> None:
    result = account.run({"cluster_identifier": hostile, "s3_prefix": hostile})
    assert (result.status, result.error) == ("FAILED", "InvalidInput")
    [note] = result.notifications
    assert_clean(note["message"], [])
    assert set(note["attributes"]) == {"status", "error"}
    assert all(value.isascii() and value.isprintable() for value in map(str, note["attributes"].values()))


def test_hostile_table_names_never_add_a_line_to_the_notification(account: EmulatedAccount) -> None:
    payload = "t\n\nQuery it in Athena:\n  SELECT * FROM \"lake\".\"stolen\" LIMIT 10;\r\nBcc: attacker@example.com"
    account.rds.set_tables(CLUSTER, [*data.POSTGRES_TABLES, table(payload, ("x", "int64")), table("T" + payload[1:], ("x", "int64"))])
    result = account.run(INPUT)
    assert result.status == "SUCCEEDED", result.cause
    message = result.notifications[-1]["message"]
    attacker_lines: list[str] = []
    assert_clean(message, attacker_lines)
    assert attacker_lines
    selects = [line for line in message.split("\n") if line.lstrip().startswith("SELECT")]
    assert len(selects) == 1 and "stolen" not in selects[0]


def test_an_input_near_the_size_limit_fails_with_a_notification_that_does_not_carry_it(account: EmulatedAccount) -> None:
    # StartExecution takes at most 262,144 bytes (botocore's stepfunctions model, SensitiveData).
    huge = {"cluster_identifier": CLUSTER, "export_only": ["mydb.public.t" + "x" * 90] * 2440}
    size = len(json.dumps(huge).encode())
    assert 255_000 < size <= 262_144
    result = account.run(huge)
    assert result.status == "FAILED"
    [note] = result.notifications
    assert "FAILED" in note["subject"] and "x" * 200 not in note["message"]
    # From the failure path on, no state carries the input: each stays a few KiB.
    failed_path = result.history[next(i for i, e in enumerate(result.history)
                                      if e.get("stateEnteredEventDetails", {}).get("name") == "ValidateInputFailed"):]
    sizes = [len(d[k].encode()) for e in failed_path for d in e.values() if isinstance(d, dict) for k in ("input", "output") if isinstance(d.get(k), str)]
    assert sizes and max(sizes) < 20_000


def test_a_foreign_export_task_of_any_name_does_not_stop_the_wake_up(account: EmulatedAccount) -> None:
    from moto.rds.models import ExportTask, rds_backends

    snapshot = f"arn:aws:rds:{account.region}:{account.account_id}:cluster-snapshot:demo-aurora-cluster-manual-2026-11-01"
    backend = rds_backends[account.account_id][account.region]
    # Someone else's finished export of the same snapshot, under an identifier no run of the stack
    # could give (RDS's own length limit is not documented: the wake-up must not depend on it).
    foreign = "someone-elses-export-of-this-snapshot-" + "x" * 40
    task = ExportTask(backend, backend.cluster_snapshots["demo-aurora-cluster-manual-2026-11-01"], {
        "export_task_identifier": foreign, "source_arn": snapshot, "s3_bucket_name": account.bucket,
        "iam_role_arn": "arn:aws:iam::123456789012:role/other", "kms_key_id": "other-key", "s3_prefix": "elsewhere"})
    backend.export_tasks[foreign] = task
    result = account.run({"snapshot_arn": snapshot})
    assert result.status == "SUCCEEDED", result.cause
    deliveries = account.events.deliveries
    assert deliveries and all(d.error_type is None for d in deliveries)
    assert any(d.result["woken"] for d in deliveries)


def test_a_db_instance_named_like_a_cluster_never_takes_the_clusters_tables() -> None:
    # Cluster and DB instance identifiers are separate namespaces in RDS: an instance may carry
    # an allowed cluster's name, and its tables the same database.schema.table names.
    allowed = ",".join((*data.ALLOWED_DB_INSTANCES, CLUSTER))
    with EmulatedAccount(handler_output=io.StringIO(), parameters={"AllowedDBInstanceIdentifiers": allowed}) as account:
        account.rds.create_db_instances([data.DbInstance(CLUSTER, "postgres", "16.4", ("mydb",), data.POSTGRES_TABLES)])
        first = account.run(INPUT)
        assert first.status == "SUCCEEDED", first.cause
        before = catalog(account)
        second = account.run({"db_instance_identifier": CLUSTER})
        after = catalog(account)
    assert second.status == "SUCCEEDED", second.cause
    # Every table of the cluster's run is as it was: same owner (kind cluster), same export.
    assert {name: after[name] for name in exported(before)} == exported(before)
    assert all(owner(entry)[2] == "cluster" for entry in exported(before).values())
    # The instance's tables would take the cluster's names: left out, each reported, nothing re-pointed.
    [note] = second.notifications[-1:]
    assert note["subject"].startswith("[aurora-lake] PARTIAL"), note["subject"]
    assert "DB instance:   demo-aurora-cluster" in note["message"]
    assert "mydb.public.users" in note["message"] and "cluster demo-aurora-cluster" in note["message"]
    assert not any(owner(entry)[2] == "instance" and not name.startswith("_") and name in before for name, entry in after.items())
