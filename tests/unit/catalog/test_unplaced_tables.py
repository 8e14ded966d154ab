"""Planning an export whose table names the metadata cannot place, at the size of a large database."""

from __future__ import annotations

import time

from aurora_lake.catalog.tables import plan_tables
from aurora_lake.export_metadata import ExportedColumn, ExportedTable, ExportLocation, unplaceable

LOCATION = ExportLocation.of("lake-bucket", "exports/", "exp-1")
COLUMNS = (ExportedColumn("id", "int64"),)


def _table(schema: str, name: str) -> ExportedTable:
    return ExportedTable(f"mydb.{schema}.{name}", "mydb", schema, name, COLUMNS)


def test_ten_thousand_hostile_names_beside_ten_thousand_tables_are_planned_in_bounded_time_and_memory() -> None:
    # Each hostile name holds as many dots as a 63-character PostgreSQL name can (31), in schema and table.
    dotted = ".".join(["a"] * 32)
    hostile = [unplaceable(f"mydb.{dotted}{n}.{dotted}") for n in range(10_000)]
    tables = [_table("public", f"t{n}") for n in range(10_000)]
    assert max(len(item.folders) for item in hostile) == 2
    started = time.process_time()
    kept, refused = plan_tables("demo-aurora-cluster", LOCATION, tables, unplaced=hostile)
    assert time.process_time() - started < 20
    assert len(kept) == 10_000 and len(refused) == 10_000


def test_a_table_whose_folder_may_hold_an_unplaced_tables_files_is_refused_naming_it() -> None:
    # "mydb.public.t/1.x": schema public, table "t/1.x" would lie in mydb/public.t/1.x/, inside t's folder.
    kept, refused = plan_tables("demo-aurora-cluster", LOCATION, [_table("public", "t"), _table("public", "u")],
                                unplaced=[unplaceable("mydb.public.t/1.x")])
    assert [plan.source.target for plan in kept] == ["mydb.public.u"]
    reasons = {skipped.target: skipped.reason for skipped in refused}
    assert "may hold the files of mydb.public.t/1.x" in reasons["mydb.public.t"]
    assert "cannot tell which table it is" in reasons["mydb.public.t/1.x"]
