"""What a database user can do to the catalog by naming tables and columns, against moto's S3 and Glue.

Each test is an attack: the names RDS reports are chosen by application users. None of them may
change a table of another source, rewrite a table's history, reach another table's files, or
stop the other tables of the export from being catalogued.
"""

from __future__ import annotations

import random
import string
from typing import Any
from unittest import mock

import boto3
import pytest

from aurora_lake import clients, naming
from aurora_lake.catalog import iceberg, names

from .test_create_athena_tables import (  # noqa: F401  (lake is a fixture)
    BUCKET,
    DATABASE,
    USERS,
    USERS_LATEST,
    LambdaContext,
    Lake,
    columns,
    data_file_paths,
    executions,
    glue_table,
    glue_tables,
    handler,
    lake,
    latest_tables,
    metadata,
    query,
    run_until_done,
    state,
    write_export,
)

ORDERS = {**USERS, "target": "mydb.public.orders"}
ORDERS_LATEST = "demo_aurora_cluster__mydb__public__orders"


def missing(result: dict[str, Any]) -> dict[str, str]:
    return {entry["table"]: entry["reason"] for entry in result["missing_tables"]}


def location(name: str) -> str:
    return glue_table(name)["StorageDescriptor"]["Location"]


def current_export(name: str) -> str:
    return glue_table(name)["Parameters"]["aurora_lake.export_task_identifier"]


def exports_of(name: str) -> list[str | None]:
    return [iceberg.export_of(s) for s in iceberg.ordered_snapshots(metadata(name))]


DAY2 = "2026-11-03T03:00:00.000Z"


def test_tables_named_like_an_earlier_export_or_an_archive_cannot_rewrite_history(lake: Lake) -> None:
    write_export("exp-1", [[USERS]])
    run_until_done(lake, state("exp-1"))
    history = metadata(USERS_LATEST)
    # The database user plants tables spelled like exp-1's 2.x versioned table, an archived history, the drift log.
    planted = [{**USERS, "target": f"mydb.public.users__{suffix}", "schemaMetadata": columns(("secret", "binary (UTF8)"))}
               for suffix in ("exp_1", "exp-1", "EXP_1", "1", "exp_2")]
    planted += [{**USERS, "target": "mydb._demo_aurora_cluster__mydb__public.users__1"},
                {**USERS, "target": "aurora.lake.drift_log"}]
    write_export("exp-2", [[USERS, *planted]])
    final = run_until_done(lake, state("exp-2", snapshot_time=DAY2))[-1]
    # users' history is exp-1 then exp-2, its first snapshot exactly as written; no planted table took a name of the stack's.
    assert exports_of(USERS_LATEST) == ["exp-1", "exp-2"]
    assert metadata(USERS_LATEST).snapshot_by_id(history.current_snapshot_id) == history.current_snapshot()
    assert all(not name.startswith("_") and "__" in name for name in latest_tables())
    assert naming.DRIFT_LOG_TABLE not in latest_tables() and glue_table(naming.DRIFT_LOG_TABLE)["Parameters"]["aurora_lake.table_role"] == "drift_log"
    # users__exp_1, users__exp-1 and users__EXP_1 share a name with each other: those are left out.
    assert set(missing(final)) == {"mydb.public.users__exp_1", "mydb.public.users__exp-1", "mydb.public.users__EXP_1"}


def test_no_latest_name_is_ever_a_versioned_archived_or_drift_log_name() -> None:
    rng = random.Random(18)
    alphabet = string.ascii_letters + string.digits + "_-. /\\`\"$" + "é\u2028\x00"
    for _ in range(2000):
        parts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(3)]
        cluster = rng.choice(string.ascii_lowercase) + "".join(rng.choice(string.ascii_lowercase + "-") for _ in range(8))
        latest = names.latest_table_name(cluster, *parts)
        assert latest[0].isalpha() and "__" in latest and latest != naming.DRIFT_LOG_TABLE
        assert names.versioned_table_name(cluster, *parts, "exp-1").startswith(names.VERSIONED_MARK)
        archived = names.archived_table_name(latest, rng.randint(1, names.MAX_ARCHIVES))
        assert archived.startswith(names.VERSIONED_MARK) and archived.rsplit("__", 1)[1].isdigit()


def test_a_skipped_table_keeps_its_latest_table_when_another_takes_its_spelling(lake: Lake) -> None:
    write_export("exp-1", [[USERS, ORDERS]])
    run_until_done(lake, state("exp-1"))
    before = glue_table(USERS_LATEST)
    # Run 2: RDS skips mydb.public.users, and exports a new mydb.public.Users.
    skipped = {"target": "mydb.public.users", "status": "SKIPPED", "warningMessage": "Temporary tables are not exported"}
    write_export("exp-2", [[skipped, {**USERS, "target": "mydb.public.Users", "schemaMetadata": columns(("planted", "int64"))}, ORDERS]])
    final = run_until_done(lake, state("exp-2", snapshot_time=DAY2))[-1]
    after = glue_table(USERS_LATEST)
    assert after["StorageDescriptor"] == before["StorageDescriptor"] and exports_of(USERS_LATEST) == ["exp-1"]
    assert after["Parameters"]["aurora_lake.source_table"] == "mydb.public.users"
    reason = missing(final)["mydb.public.Users"]
    assert f"the latest table name {USERS_LATEST} is taken by the latest table of mydb.public.users" in reason
    assert "rename mydb.public.Users" in reason
    assert final["partial"] is True and final["sample_table"] == ORDERS_LATEST
    assert exports_of(ORDERS_LATEST) == ["exp-1", "exp-2"]


@pytest.mark.parametrize("pair", [("a-b", "a_b"), ("Users", "users"), ("x y", "x_y")])
def test_any_two_tables_sharing_a_name_leave_only_themselves_out(lake: Lake, pair: tuple[str, str]) -> None:
    tables = [{**USERS, "target": f"mydb.public.{name}"} for name in pair]
    write_export("exp-1", [[*tables, ORDERS]])
    final = run_until_done(lake, state("exp-1"))[-1]
    assert set(missing(final)) == {f"mydb.public.{name}" for name in pair}
    assert final["tables_created"] == 1 and latest_tables() == {ORDERS_LATEST}


def sources_in_catalog() -> set[str]:
    return {(glue_table(name).get("Parameters") or {}).get("aurora_lake.source_table") for name in glue_tables()}


# Targets RDS's metadata gives (database, schema and table joined with "."), from names that hold a
# dot or are empty: each may stand for more than one table.
UNPLACEABLE = ["mydb.public.x.", "mydb.public.x.y", "mydb.a.b.c", "mydb..x", ".public.x", "mydb.public.", "my.db.public.t"]


@pytest.mark.parametrize("target", UNPLACEABLE)
def test_a_name_the_metadata_cannot_place_is_left_out_and_the_rest_catalogued(lake: Lake, target: str) -> None:
    write_export("exp-1", [[USERS, {**USERS, "target": target}, ORDERS]])
    final = run_until_done(lake, state("exp-1"))[-1]
    assert final["done"] is True and final["partial"] is True
    reason = missing(final)[target]
    assert "cannot tell which table it is" in reason and "rename it at the source" in reason
    assert final["tables_created"] == 2 and latest_tables() == {USERS_LATEST, ORDERS_LATEST}
    assert target not in sources_in_catalog()


def test_a_name_with_a_dot_never_takes_the_name_of_the_table_it_reads_like(lake: Lake) -> None:
    # mydb.public.x.y is either table "x.y" of schema public or table "y" of schema "public.x":
    # left out, while x_y (whose name one of its readings would claim) is catalogued as itself.
    write_export("exp-1", [[{**USERS, "target": "mydb.public.x.y"}, {**USERS, "target": "mydb.public.x_y"}]])
    final = run_until_done(lake, state("exp-1"))[-1]
    assert set(missing(final)) == {"mydb.public.x.y"}
    assert 'schema "public", table "x.y"' in missing(final)["mydb.public.x.y"]
    assert 'schema "public.x", table "y"' in missing(final)["mydb.public.x.y"]
    assert latest_tables() == {"demo_aurora_cluster__mydb__public__x_y"}
    paths = data_file_paths("demo_aurora_cluster__mydb__public__x_y")
    assert paths and all(path.startswith(f"s3://{BUCKET}/exports/exp-1/mydb/public.x_y/") for path in paths)


@pytest.mark.parametrize("same_columns", [True, False], ids=["same-columns", "other-columns"])
def test_two_tables_the_metadata_names_alike_are_both_left_out_naming_both(lake: Lake, same_columns: bool) -> None:
    # Schema "a.b" with table "c" and schema "a" with table "b.c": RDS names both mydb.a.b.c and
    # writes both into mydb/a.b.c/. Neither can be told from the other, nor its files.
    first = {**USERS, "target": "mydb.a.b.c"}
    second = first if same_columns else {**first, "schemaMetadata": columns(("other", "binary (UTF8)"))}
    write_export("exp-1", [[USERS, first], [second, ORDERS]])
    final = run_until_done(lake, state("exp-1"))[-1]
    assert [entry["table"] for entry in final["missing_tables"]] == ["mydb.a.b.c"]
    reason = missing(final)["mydb.a.b.c"]
    assert "lists 2 tables as mydb.a.b.c" in reason
    assert 'schema "a.b", table "c"' in reason and 'schema "a", table "b.c"' in reason
    assert final["tables_created"] == 2 and latest_tables() == {USERS_LATEST, ORDERS_LATEST}
    assert "mydb.a.b.c" not in sources_in_catalog()


def test_a_table_whose_folder_may_hold_an_unplaceable_tables_files_is_left_out(lake: Lake) -> None:
    # mydb.public.t/1.x may be schema "public", table "t/1.x": written under mydb/public.t/1.x/,
    # inside t's own folder, where t's LOCATION would read its rows as t's.
    t = {**USERS, "target": "mydb.public.t"}
    write_export("exp-1", [[t, {**USERS, "target": "mydb.public.t/1.x"}, ORDERS]])
    final = run_until_done(lake, state("exp-1"))[-1]
    assert "may hold the files of mydb.public.t/1.x" in missing(final)["mydb.public.t"]
    assert "holds '/'" in missing(final)["mydb.public.t/1.x"]
    assert latest_tables() == {ORDERS_LATEST}


def test_an_export_with_no_table_catalogued_is_reported_as_such(lake: Lake) -> None:
    write_export("exp-1", [[{**USERS, "target": "mydb.public.x."}, {**USERS, "target": "mydb.a.b.c"}, {**ORDERS, "target": "mydb.a.b.c"}]])
    final = run_until_done(lake, state("exp-1"))[-1]
    assert final["done"] is True and final["partial"] is True
    assert final["tables_created"] == 0 and final["sample_table"] is None
    assert set(missing(final)) == {"mydb.public.x.", "mydb.a.b.c"}
    assert latest_tables() == set()


def test_a_table_the_stack_did_not_create_is_never_taken_over(lake: Lake) -> None:
    glue = boto3.client("glue")
    foreign = {"Name": USERS_LATEST, "StorageDescriptor": {"Location": "s3://analytics/users/", "Columns": [{"Name": "x", "Type": "int"}]},
               "Parameters": {"owner": "analytics team"}}
    glue.create_table(DatabaseName=DATABASE, TableInput=foreign)
    write_export("exp-1", [[USERS, ORDERS]])
    final = run_until_done(lake, state("exp-1"))[-1]
    assert location(USERS_LATEST) == "s3://analytics/users/" and "table_type" not in glue_table(USERS_LATEST)["Parameters"]
    assert "taken by a table this stack did not create" in missing(final)["mydb.public.users"]
    assert exports_of(ORDERS_LATEST) == ["exp-1"]


def test_another_clusters_table_of_the_same_name_is_never_taken_over(lake: Lake) -> None:
    write_export("exp-1", [[USERS]])
    run_until_done(lake, state("exp-1"))
    # The same identifier in another account (or a source of another kind) is another source.
    write_export("exp-2", [[USERS]])
    other = state("exp-2")
    other["export"]["source_arn"] = "arn:aws:rds:us-east-1:210987654321:cluster-snapshot:demo-aurora-cluster-x"
    final = run_until_done(lake, other)[-1]
    assert exports_of(USERS_LATEST) == ["exp-1"]
    assert "account 123456789012" in missing(final)["mydb.public.users"]


def test_a_name_glue_refuses_leaves_that_table_out_before_any_change(lake: Lake) -> None:
    four = [{**USERS, "target": f"mydb.public.t{n}"} for n in range(4)]
    write_export("exp-1", [four])
    run_until_done(lake, state("exp-1"))
    bad = {**four[2], "schemaMetadata": columns(("ok", "int64"), ("bad\x01col", "int64"), ("nul\x00", "int64"))}
    write_export("exp-2", [[four[0], four[1], bad, four[3]]])
    final = run_until_done(lake, state("exp-2", snapshot_time=DAY2))[-1]
    reason = missing(final)["mydb.public.t2"]
    assert "Glue would refuse it" in reason and "\\x01" in reason
    latest = {n: current_export(f"demo_aurora_cluster__mydb__public__t{n}") for n in range(4)}
    assert latest == {0: "exp-2", 1: "exp-2", 2: "exp-1", 3: "exp-2"}
    assert exports_of("demo_aurora_cluster__mydb__public__t2") == ["exp-1"]


def test_an_overlong_column_name_or_table_definition_is_left_out(lake: Lake) -> None:
    wide = {**USERS, "target": "mydb.public.wide", "schemaMetadata": columns(("c" * 300, "int64"))}
    write_export("exp-1", [[wide, ORDERS]])
    final = run_until_done(lake, state("exp-1"))[-1]
    assert "more than Glue's 255" in missing(final)["mydb.public.wide"]
    assert latest_tables() == {ORDERS_LATEST}


def test_a_schema_holding_a_slash_cannot_nest_its_folder_in_another_tables(lake: Lake) -> None:
    nested = {**USERS, "target": "mydb.public.users/1.x"}  # folder mydb/public.users/1.x/: inside users'
    slashed_schema = {**USERS, "target": "mydb.public.users/2.y"}
    write_export("exp-1", [[USERS, nested, slashed_schema]])
    final = run_until_done(lake, state("exp-1"))[-1]
    assert {"mydb.public.users/1.x", "mydb.public.users/2.y"} <= set(missing(final))
    assert "holds '/'" in missing(final)["mydb.public.users/1.x"]
    # users' own folder now holds the others' files: it is left out too, and reported.
    assert "may hold the files of mydb.public.users/1.x" in missing(final)["mydb.public.users"]
    assert USERS_LATEST not in glue_tables()


def test_two_tables_in_one_folder_are_both_left_out(lake: Lake) -> None:
    # schema "a.b" + table "c" and schema "a" + table "b.c" are both written under mydb/a.b.c/.
    first = {**USERS, "target": "mydb.a.b.c"}
    second = {**USERS, "target": "mydb.a.b.c"}
    write_export("exp-1", [[{**first, "target": "mydb.x y.z"}, {**second, "target": "mydb.x_y.z"}, ORDERS]])
    final = run_until_done(lake, state("exp-1"))[-1]
    assert {"mydb.x y.z", "mydb.x_y.z"} <= set(missing(final))
    assert latest_tables() == {ORDERS_LATEST}


def test_a_foreign_table_appearing_while_the_plan_is_applied_is_left_as_it_is(lake: Lake) -> None:
    write_export("exp-1", [[USERS, ORDERS]])
    glue = clients.client("glue")
    real_get = glue.get_table

    def racing_get(**kwargs: Any) -> Any:
        if kwargs["Name"] == USERS_LATEST and not glue_tables().get(USERS_LATEST):
            boto3.client("glue").create_table(DatabaseName=kwargs["DatabaseName"], TableInput={
                "Name": USERS_LATEST, "StorageDescriptor": {"Location": "s3://elsewhere/"}, "Parameters": {}})
        return real_get(**kwargs)

    with mock.patch.object(glue, "get_table", racing_get):
        final = run_until_done(lake, state("exp-1"))[-1]
    assert location(USERS_LATEST) == "s3://elsewhere/"
    assert "taken by a table this stack did not create" in missing(final)["mydb.public.users"]
    assert exports_of(ORDERS_LATEST) == ["exp-1"]


def test_a_foreign_table_the_listing_missed_is_still_never_overwritten(lake: Lake) -> None:
    # If GetTables' Expression matched differently on AWS, the plan would not see the table: the
    # commit reads each table before it writes and checks the owner there too.
    boto3.client("glue").create_table(DatabaseName=DATABASE, TableInput={
        "Name": USERS_LATEST, "StorageDescriptor": {"Location": "s3://analytics/users/"}, "Parameters": {"owner": "analytics"}})
    write_export("exp-1", [[USERS]])
    with mock.patch("aurora_lake.catalog.tables.existing_tables", return_value={}):
        final = run_until_done(lake, state("exp-1"))[-1]
    assert location(USERS_LATEST) == "s3://analytics/users/"
    assert "taken by a table this stack did not create" in missing(final)["mydb.public.users"]


def test_a_table_named_like_another_tables_metadata_folder_never_reaches_its_files(lake: Lake) -> None:
    # The latest names "...users" and "...users__metadata" share a prefix (a name with "/" is refused, above).
    write_export("exp-1", [[USERS, {**USERS, "target": "mydb.public.users__metadata"}]])
    assert run_until_done(lake, state("exp-1"))[-1]["tables_created"] == 2
    neighbour = USERS_LATEST + "__metadata"
    before = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"iceberg/{DATABASE}/{neighbour}/")["Contents"]}
    # users' history expires: its table and metadata folder go, its neighbour's files all stay.
    committer = iceberg.Committer(boto3.client("glue"), DATABASE, f"s3://{BUCKET}/iceberg/")
    stack = glue_table(USERS_LATEST)["Parameters"]["aurora_lake.stack"]
    assert committer.remove_exports(DATABASE, USERS_LATEST, ["exp-1"], stack) == "dropped"
    after = {o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"iceberg/{DATABASE}/{neighbour}/")["Contents"]}
    assert after == before and exports_of(neighbour) == ["exp-1"]
    assert boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"iceberg/{DATABASE}/{USERS_LATEST}/").get("KeyCount") == 0


def test_columns_named_like_name_mapping_entries_are_plain_columns(lake: Lake) -> None:
    odd = ["field-id", "names", '{"field-id": 1, "names": ["id"]}', "schema.name-mapping.default", 'a"b', "id"]
    table = {**USERS, "target": "mydb.public.odd", "schemaMetadata": columns(*((name, "int64") for name in odd))}
    write_export("exp-1", [[table]])
    final = run_until_done(lake, state("exp-1"))[-1]
    assert final["tables_created"] == 1, final["missing_tables"]
    name = "demo_aurora_cluster__mydb__public__odd"
    mapping = metadata(name).properties["schema.name-mapping.default"]
    assert [entry["names"] for entry in __import__("json").loads(mapping)] == [[n] for n in odd]
    quoted = ", ".join('count("' + n.replace('"', '""') + '")' for n in odd)
    assert query(f'SELECT {quoted} FROM "{DATABASE}"."{name}"') == [[6] * 5 + [7]]  # "id" has no NULL row


def test_columns_whose_names_fold_together_across_exports_are_one_column(lake: Lake) -> None:
    # Renamed Email -> EMAIL at the source: one column "email", both spellings in the name mapping.
    write_export("exp-1", [[{**USERS, "schemaMetadata": columns(("id", "int64"), ("Email", "binary (UTF8)"))}]], rows=5)
    run_until_done(lake, state("exp-1"))
    write_export("exp-2", [[{**USERS, "schemaMetadata": columns(("id", "int64"), ("EMAIL", "binary (UTF8)"))}]], rows=3)
    final = run_until_done(lake, state("exp-2", snapshot_time=DAY2))[-1]
    assert final["drift"]["schema"]["count"] == 0
    mapping = __import__("json").loads(metadata(USERS_LATEST).properties["schema.name-mapping.default"])
    assert {"field-id": 2, "names": ["Email", "EMAIL"]} in mapping
    table = f'"{DATABASE}"."{USERS_LATEST}"'
    assert query(f"SELECT count(email) FROM {table}") == [[3]]
    assert query(f"SELECT count(email) FROM {table} FOR TIMESTAMP AS OF TIMESTAMP '2026-11-02 12:00:00'") == [[5]]
