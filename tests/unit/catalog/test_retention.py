"""Expired exports leave the catalog, boundedly, whatever the state of the others, and nothing else does (S3 and Glue in moto).

2.x ledger entries drop their export's versioned tables; entries that list Iceberg tables remove the
export's snapshot from each (and drop a table whose last snapshot it was).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from aurora_lake.catalog import ownership, retention

BUCKET = "lake-bucket"
DATABASE = "aurora_lake"
OLD, NEW = "orders-lake-aaaaaaaaaaaa-111111111111", "orders-lake-bbbbbbbbbbbb-222222222222"
STACK = ownership.stack_identity(DATABASE, BUCKET)
SOURCE = ownership.Source("123456789012", "cluster", "orders")


def root(export_id: str) -> str:
    return f"s3://{BUCKET}/exports/{export_id}/"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    for name, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        s3, glue = boto3.client("s3"), boto3.client("glue")
        s3.create_bucket(Bucket=BUCKET)
        glue.create_database(DatabaseInput={"Name": DATABASE})
        yield s3, glue


def export(s3: Any, glue: Any, export_id: str, tables: int) -> None:
    """An export's files and its versioned tables, recorded as a run records them."""
    sid = export_id.replace("-", "_")
    for n in range(tables):
        s3.put_object(Bucket=BUCKET, Key=f"exports/{export_id}/mydb/public.t{n}/1/part-00000.gz.parquet", Body=b"x")
        glue.create_table(DatabaseName=DATABASE, TableInput={
            "Name": f"_orders__mydb__public__t{n}__{sid}",
            "StorageDescriptor": {"Location": f"{root(export_id)}mydb/public.t{n}/"},
            "Parameters": ownership.record(STACK, SOURCE, f"mydb.public.t{n}", ownership.VERSIONED, export_id),
        })
    retention.record_export(s3, BUCKET, export_id, root(export_id), DATABASE)


def expire(s3: Any, export_id: str) -> None:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"exports/{export_id}/")["Contents"]
    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": o["Key"]} for o in listed]})


def tables(glue: Any) -> set[str]:
    return {t["Name"] for t in glue.get_tables(DatabaseName=DATABASE)["TableList"]}


def prune(s3: Any, glue: Any, **options: Any) -> retention.RetentionResult:
    return retention.prune_expired_exports(s3, glue, BUCKET, DATABASE, current_export_id=NEW, now=time.time(), **options)


def test_versioned_tables_of_an_expired_export_are_dropped_and_nothing_else(aws: tuple[Any, Any]) -> None:
    s3, glue = aws
    export(s3, glue, OLD, tables=3)
    export(s3, glue, NEW, tables=3)
    # The latest table (re-pointed elsewhere) and a table that only looks like an old one stay.
    glue.create_table(DatabaseName=DATABASE, TableInput={"Name": "orders__mydb__public__t0",
                                                         "StorageDescriptor": {"Location": f"{root(NEW)}mydb/public.t0/"}})
    glue.create_table(DatabaseName=DATABASE, TableInput={"Name": f"other__x__{OLD.replace('-', '_')}",
                                                         "StorageDescriptor": {"Location": "s3://elsewhere/x/"}})
    expire(s3, OLD)
    result = prune(s3, glue)
    assert result.exports_gone == [OLD] and result.tables_dropped == 3 and not result.more
    assert not any(name.endswith(OLD.replace("-", "_")) and name.startswith("_orders__") for name in tables(glue))
    assert {"orders__mydb__public__t0", f"other__x__{OLD.replace('-', '_')}"} <= tables(glue)
    assert len([n for n in tables(glue) if n.endswith(NEW.replace("-", "_"))]) == 3
    ledger = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="athena-catalog/")["Contents"] if o["Key"] != retention.CURSOR_KEY]
    assert ledger == [retention.ledger_key(NEW)]  # the expired export is forgotten


def test_exports_whose_files_remain_keep_their_tables(aws: tuple[Any, Any]) -> None:
    s3, glue = aws
    export(s3, glue, OLD, tables=2)
    export(s3, glue, NEW, tables=2)
    before = tables(glue)
    result = prune(s3, glue)
    assert result.exports_checked == 1 and result.exports_gone == [] and tables(glue) == before


def test_an_export_within_its_expiry_is_gone_once_its_files_are(aws: tuple[Any, Any]) -> None:
    s3, glue = aws
    export(s3, glue, OLD, tables=1)
    assert prune(s3, glue, expiration_days=30).exports_gone == [] and len(tables(glue)) == 1
    expire(s3, OLD)  # deleted by hand, long before the lifecycle rule
    assert prune(s3, glue, expiration_days=30).exports_gone == [OLD] and tables(glue) == set()


def test_drops_are_bounded_per_run_and_the_next_run_finishes(aws: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    s3, glue = aws
    export(s3, glue, OLD, tables=7)
    expire(s3, OLD)
    first = prune(s3, glue, max_table_commits=4)
    assert first.tables_dropped == 4 and first.more is True
    assert retention.ledger_key(OLD) in [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    second = prune(s3, glue, max_table_commits=4)
    assert second.tables_dropped == 3 and second.more is False and tables(glue) == set()


def test_exports_checked_per_run_are_bounded(aws: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    s3, glue = aws
    monkeypatch.setattr(retention, "MAX_EXPORT_CHECKS", 2)
    for n in range(5):
        export(s3, glue, f"orders-lake-{n:012d}-000000000000", tables=1)
    assert prune(s3, glue).exports_checked == 2


def test_an_export_left_with_markers_and_metadata_only_has_no_files(aws: tuple[Any, Any]) -> None:
    s3, glue = aws
    export(s3, glue, OLD, tables=2)
    export(s3, glue, NEW, tables=1)
    expire(s3, OLD)
    # What remains of the old export is no data: its metadata and the _SUCCESS markers.
    for key in ("export_info_x.json", "mydb/public.t0/_SUCCESS", "mydb/public.t0/1/_SUCCESS"):
        s3.put_object(Bucket=BUCKET, Key=f"exports/{OLD}/{key}", Body=b"")
    result = prune(s3, glue)
    assert result.exports_gone == [OLD] and result.tables_dropped == 2


def test_only_versioned_tables_this_stack_created_for_that_export_are_dropped(aws: tuple[Any, Any]) -> None:
    s3, glue = aws
    export(s3, glue, OLD, tables=1)
    sid = OLD.replace("-", "_")
    location = {"Location": f"{root(OLD)}mydb/public.t0/"}
    # Same spelling and folder, but no record, another stack's record, or a latest table's record.
    planted = {
        f"_planted__{sid}": {},
        f"_other_stack__{sid}": ownership.record("glue:x s3:y", SOURCE, "mydb.public.t0", ownership.VERSIONED, OLD),
        f"_latest_role__{sid}": ownership.record(STACK, SOURCE, "mydb.public.t0", ownership.LATEST, OLD),
        f"_other_export__{sid}": ownership.record(STACK, SOURCE, "mydb.public.t0", ownership.VERSIONED, NEW),
    }
    for name, parameters in planted.items():
        glue.create_table(DatabaseName=DATABASE, TableInput={"Name": name, "StorageDescriptor": location, "Parameters": parameters})
    expire(s3, OLD)
    result = prune(s3, glue)
    assert result.tables_dropped == 1
    assert set(planted) <= tables(glue)


def test_a_ledger_folder_holding_foreign_files_does_not_stop_retention(aws: tuple[Any, Any]) -> None:
    s3, glue = aws
    export(s3, glue, OLD, tables=1)
    s3.put_object(Bucket=BUCKET, Key="athena-catalog/0000-not-json.json", Body=b"PAR1 not a ledger entry")
    s3.put_object(Bucket=BUCKET, Key="athena-catalog/0001-other.json", Body=b'{"export_root": "s3://x/", "export_task_identifier": "e", "glue_database": "other"}')
    expire(s3, OLD)
    assert prune(s3, glue).tables_dropped == 1


def test_every_entry_is_examined_within_a_bounded_number_of_runs(aws: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # 2.x examined the 10 oldest entries each run: with 10 exports still holding files, no later one was ever examined.
    s3, glue = aws
    monkeypatch.setattr(retention, "MAX_EXPORT_CHECKS", 5)
    for n in range(12):
        export(s3, glue, f"orders-lake-{n:012d}-000000000000", tables=1)
    gone = "orders-lake-999999999999-000000000000"
    export(s3, glue, gone, tables=1)
    expire(s3, gone)
    runs = [prune(s3, glue) for _ in range(3)]
    assert [r.exports_checked for r in runs] == [5, 5, 3] and [r.exports_gone for r in runs] == [[], [], [gone]]
    assert prune(s3, glue).exports_checked == 5  # and round again


# -- Iceberg tables ------------------------------------------------------------------------------------

T0 = 1_790_000_000_000
DAY = 86_400_000


def iceberg_export(s3: Any, committer: Any, export_id: str, when: int, tables: list[str]) -> None:
    from aurora_lake.catalog import iceberg, names
    from emulated_account.data import Column
    from emulated_account.export_writer import parquet_bytes

    body = parquet_bytes([Column("id", "bigint", "int64")], range(3))
    for name in tables:
        key = f"exports/{export_id}/mydb/public.{name}/1/part-00000.gz.parquet"
        s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        latest = names.latest_table_name("orders", "mydb", "public", name)
        target = iceberg.Target(DATABASE, latest, f"s3://{BUCKET}/iceberg/", ownership.record(STACK, SOURCE, f"mydb.public.{name}", ownership.LATEST, ""))
        committer.commit_export(target, iceberg.TableExport(export_id, when, when, (iceberg.ExportedColumn("id", "bigint"),),
                                                            (iceberg.ExportFile(f"s3://{BUCKET}/{key}", len(body)),)))
    retention.record_export(s3, BUCKET, export_id, root(export_id), DATABASE, SOURCE.account, export_started_ms=when,
                            tables=[names.latest_table_name("orders", "mydb", "public", n) for n in tables], name_prefix="orders__")


@pytest.fixture
def committer(aws: tuple[Any, Any]) -> Any:
    from aurora_lake import clients
    from aurora_lake.catalog import iceberg
    from emulated_account import glue_sim

    clients.reset()
    with glue_sim.installed():
        yield iceberg.Committer(aws[1], DATABASE, f"s3://{BUCKET}/iceberg/")
    clients.reset()


def iceberg_prune(s3: Any, glue: Any, committer: Any, now_ms: int, **options: Any) -> retention.RetentionResult:
    return retention.prune_expired_exports(
        s3, glue, BUCKET, DATABASE, current_export_id="none", current_account=SOURCE.account, now=now_ms / 1000, workers=2,
        remove_snapshots=lambda name, ids, stack: committer.remove_exports(DATABASE, name, ids, stack), **options)


def test_an_expired_export_leaves_every_table_and_a_table_goes_with_its_last_snapshot(aws: tuple[Any, Any], committer: Any) -> None:
    from aurora_lake.catalog import iceberg
    from aurora_lake.catalog.iceberg_io import Boto3FileIO

    s3, glue = aws
    iceberg_export(s3, committer, "orders-lake-one", T0, ["a", "b"])
    iceberg_export(s3, committer, "orders-lake-two", T0 + DAY, ["a"])
    # Seven days of retention: the first export's files go on day 7, its snapshots leave on day 6.
    assert iceberg_prune(s3, glue, committer, T0 + 5 * DAY, expiration_days=7).exports_gone == []
    result = iceberg_prune(s3, glue, committer, T0 + 6 * DAY, expiration_days=7)
    assert result.exports_gone == ["orders-lake-one"] and result.snapshots_removed == 2 and result.tables_dropped == 1
    assert tables(glue) == {"orders__mydb__public__a"}
    found = iceberg.read_glue_table(glue, DATABASE, "orders__mydb__public__a")
    assert found is not None
    metadata = iceberg.load_metadata(Boto3FileIO(), found.metadata_location)
    assert [iceberg.export_of(s) for s in metadata.snapshots] == ["orders-lake-two"]
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="iceberg/aurora_lake/orders__mydb__public__b/").get("KeyCount") == 0
    assert len([o for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="exports/")["Contents"] if "orders-lake-one" in o["Key"]]) == 2


def test_a_large_expired_export_is_finished_by_the_following_runs(aws: tuple[Any, Any], committer: Any) -> None:
    s3, glue = aws
    iceberg_export(s3, committer, "orders-lake-one", T0, [f"t{n}" for n in range(5)])
    expire(s3, "orders-lake-one")
    first = iceberg_prune(s3, glue, committer, T0 + DAY, max_table_commits=3)
    assert first.tables_dropped == 3 and first.more
    second = iceberg_prune(s3, glue, committer, T0 + DAY, max_table_commits=3)
    assert second.tables_dropped == 2 and not second.more and tables(glue) == set()
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="athena-catalog/")["Contents"]] == [retention.CURSOR_KEY]
