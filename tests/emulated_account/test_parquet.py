"""The Parquet files and metadata an export writes read back as real exports do."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from emulated_account import data, export_writer
from emulated_account.parquet import read_parquet


def _write(tables: tuple[data.Table, ...], **kwargs: object) -> dict[str, bytes]:
    written: dict[str, bytes] = {}
    export_writer.write_export(
        written.__setitem__,
        export_id="exp-1",
        prefix="exports/",
        tables=tables,
        info={"exportTaskIdentifier": "exp-1", "status": "COMPLETE"},
        start_time=1_793_588_400.0,
        end_time=1_793_589_300.0,
        **kwargs,  # type: ignore[arg-type]
    )
    return written


def _column_types(body: bytes) -> dict[str, tuple[str, str]]:
    schema = read_parquet(body).schema
    return {
        schema.column(i).name: (schema.column(i).physical_type, str(schema.column(i).logical_type))
        for i in range(len(schema))
    }


def test_mysql_types_have_the_documented_physical_and_logical_types() -> None:
    written = _write(data.MYSQL_TABLES)
    products = next(v for k, v in written.items() if "/shop/shop.products/1/part-" in k)
    types = _column_types(products)
    assert types["sku"][0] == "FIXED_LEN_BYTE_ARRAY" and "Decimal(precision=20, scale=0)" in types["sku"][1]
    assert types["price"][0] == "INT32" and "Decimal(precision=9, scale=2)" in types["price"][1]
    assert types["weight"][0] == "DOUBLE"
    assert types["stock"][0] == "INT32"
    assert types["description"] == ("BYTE_ARRAY", "String")
    assert types["image"] == ("BYTE_ARRAY", "None")  # plain binary, no logical type
    invoices = next(v for k, v in written.items() if "/shop/shop.invoices/1/part-" in k)
    types = _column_types(invoices)
    assert types["id"][0] == "INT64"
    assert types["total"][0] == "INT64" and "Decimal(precision=18, scale=4)" in types["total"][1]
    assert types["ledger_amount"][0] == "FIXED_LEN_BYTE_ARRAY"
    assert types["issued_at"][0] == "INT64" and "Timestamp" in types["issued_at"][1] and "microseconds" in types["issued_at"][1]
    customers = next(v for k, v in written.items() if "/shop/shop.customers/1/part-" in k)
    assert _column_types(customers)["member_since"][0] == "INT32"


def test_postgres_types_and_values_read_back() -> None:
    written = _write(data.POSTGRES_TABLES)
    users_key = next(k for k in written if "/mydb/public.users/1/part-00000-" in k)
    assert users_key.endswith(".gz.parquet")
    parquet = read_parquet(written[users_key])
    assert parquet.metadata.row_group(0).column(0).compression == "GZIP"
    types = _column_types(written[users_key])
    assert types["id"] == ("INT64", "None")
    assert types["is_active"][0] == "BOOLEAN"
    assert types["score"][0] == "FLOAT"
    assert types["balance"] == ("BYTE_ARRAY", "String")  # numeric exports as a string
    table = parquet.table
    assert table.num_rows == 25
    assert table.column("login_count").to_pylist()[1] == 7
    assert max(v for v in table.column("id").to_pylist() if v is not None) == 25


def test_date_and_decimal_logical_types_from_declared_types() -> None:
    columns = (
        data.Column("day", "date", "int32 (DATE)"),
        data.Column("amount", "decimal", "INT64 (DECIMAL(12,3))"),
        data.Column("created", "datetime", "int64 (TIMESTAMP_MICROS)"),
    )
    body = export_writer.parquet_bytes(columns, range(4))
    types = _column_types(body)
    assert types["day"] == ("INT32", "Date")
    assert types["amount"][0] == "INT64" and "scale=3" in types["amount"][1]
    rows = read_parquet(body).table.to_pylist()
    assert isinstance(rows[1]["amount"], Decimal)


def test_layout_batches_part_gaps_and_metadata() -> None:
    written = _write(data.POSTGRES_TABLES, skipped=[("mydb.public.bad table", "skipped: name has a space")])
    events = sorted(k for k in written if "/mydb/public.events/" in k)
    assert [k.split("/")[4] + "/" + k.split("/")[5][:10] for k in events] == [
        "1/part-00000",
        "1/part-00001",
        "1/part-00003",
        "2/part-00000",
        "2/part-00002",
        "3/part-00005",
    ]
    assert sum(read_parquet(written[k]).table.num_rows for k in events) == 300
    info = json.loads(written["exports/exp-1/export_info_exp-1.json"])
    assert info["exportedFilesPath"] == "exports/exp-1"
    tables_info = json.loads(written["exports/exp-1/export_tables_info_exp-1_from_1_to_6.json"])
    entries = tables_info["perTableStatus"]
    ledger = next(e for e in entries if e.get("target") == "mydb.public.Ledger_Entries")
    assert ledger["status"] == "COMPLETE"
    names = [m["columnName"] for m in ledger["schemaMetadata"]["originalTypeMappings"]]
    assert "date" in names
    assert {"columnName", "originalType", "expectedExportedType", "originalCharMaxLength", "originalNumPrecision", "originalDateTimePrecision"} <= set(
        ledger["schemaMetadata"]["originalTypeMappings"][0]
    )
    assert entries[-1] == {"warningMessage": "skipped: name has a space", "target": "mydb.public.bad table"}


@pytest.mark.parametrize("count,files", [(100, ["from_1_to_100"]), (250, ["from_1_to_100", "from_101_to_200", "from_201_to_250"])])
def test_tables_info_is_split_one_hundred_tables_a_file(count: int, files: list[str]) -> None:
    written = _write(data.synthetic_tables(count))
    names = sorted((k for k in written if "export_tables_info_" in k), key=lambda k: int(k.split("_from_")[1].split("_")[0]))
    assert [n.split("exp-1_")[1].removesuffix(".json") for n in names] == files


def test_custom_tables_info_is_written_verbatim_with_matching_files() -> None:
    document = {
        "perTableStatus": [
            {
                "target": "shop.shop.odd",
                "status": "COMPLETE",
                "sizeGB": 0.0,
                "schemaMetadata": {
                    "originalTypeMappings": [
                        {"columnName": "id", "originalType": "bigint", "expectedExportedType": "int64"},
                        {"columnName": "label", "originalType": "varchar", "expectedExportedType": "binary (UTF8)"},
                    ]
                },
            },
            {"target": "shop.shop.skipped", "warningMessage": "skipped"},
        ]
    }
    raw = json.dumps(document, indent=3).encode()
    written: dict[str, bytes] = {}
    export_writer.write_custom_export(written.__setitem__, export_id="x", prefix="", tables_info=raw, info={})
    assert written["x/export_tables_info_x_from_1_to_2.json"] == raw
    parts = [k for k in written if k.startswith("x/shop/shop.odd/")]
    assert len(parts) == 1
    assert _column_types(written[parts[0]]) == {"id": ("INT64", "None"), "label": ("BYTE_ARRAY", "String")}
    assert not any(k.startswith("x/shop/shop.skipped/") for k in written)
