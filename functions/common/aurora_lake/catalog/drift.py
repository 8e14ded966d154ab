"""What changed between an export and the previous one: the drift log and the run's summary of it.

For every table of an export, one row: its rows now and in the previous export (exact counts from
the Iceberg manifests, which hold each file's Parquet footer record count: no data is read), the
columns added, dropped and retyped (by name, against the previous export's schema), whether it is
new, became empty or lost most of its rows, and any refused change (with the archived table that
keeps the earlier history). A table left out of this export has a row saying why.

The rows of one export are one JSON Lines file, ``drift-log/<account>/<export id>.json``, kept for
good (a few hundred bytes a table), read in Athena through one Glue table, ``aurora_lake_drift_log``
(OpenX JSON SerDe over the folder). The run's result and notification carry only counts and the
first few names (``summary``; ``notifications`` words it); the file has everything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from aurora_lake import naming
from aurora_lake.catalog import glue_limits, names, ownership

TABLE_NAME = naming.DRIFT_LOG_TABLE
ROLE = "drift_log"
# "Lost most of its rows": fewer than half the previous export's.
LOST_MOST_FRACTION = 0.5
NAMES_SHOWN = 3
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
TEXT_INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
_CHANGE = "array<struct<column_name:string,from_type:string,to_type:string>>"
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("export_task_identifier", "string", "the export"),
    ("account", "string", "the source's account"),
    ("source_kind", "string", "cluster or instance"),
    ("source_identifier", "string", "the cluster or DB instance"),
    ("source_table", "string", "database.schema.table as RDS reported it"),
    ("table_name", "string", "the Iceberg table in this database"),
    ("status", "string", "created, committed, unchanged (a re-run), archived, left_out"),
    ("source_snapshot_time", "string", "the source snapshot's time (ISO 8601, UTC): the snapshot's time in the table"),
    ("snapshot_id", "bigint", "the Iceberg snapshot (FOR VERSION AS OF)"),
    ("row_count", "bigint", "rows in this export (from the manifests)"),
    ("previous_export", "string", "the export before it in the table's history"),
    ("previous_row_count", "bigint", "rows in the previous export"),
    ("row_change", "bigint", "row_count - previous_row_count"),
    ("new_table", "boolean", "no previous export"),
    ("became_empty", "boolean", "no rows now, some before"),
    ("lost_most_rows", "boolean", "fewer than half the previous export's rows"),
    ("added_columns", "array<string>", "columns added since the previous export"),
    ("dropped_columns", "array<string>", "columns dropped since the previous export"),
    ("retyped_columns", _CHANGE, "columns whose type widened"),
    ("refused_columns", _CHANGE, "type changes Iceberg cannot evolve (a new history began)"),
    ("archived_as", "string", "the table that keeps the history before a refused change"),
    ("reason", "string", "why a table was left out of this export"),
)


def key(account: str, export_id: str) -> str:
    return f"{naming.DRIFT_LOG_FOLDER}{naming.account_folder(account)}{names.sanitize(export_id)}.json"


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def row(outcome: Mapping[str, Any], export_id: str, source: ownership.Source, source_table: str) -> dict[str, Any]:
    """The drift log's row of one table (``outcome``: ``iceberg.Outcome.as_dict()``, or a left-out table's)."""
    rows, previous = outcome.get("rows"), outcome.get("previous_rows")
    left_out = outcome.get("status") == "left_out"
    new_table = not left_out and outcome.get("previous_export") is None
    return {
        "export_task_identifier": export_id,
        "account": source.account,
        "source_kind": source.kind,
        "source_identifier": source.identifier,
        "source_table": source_table,
        "table_name": outcome.get("table"),
        "status": outcome.get("status"),
        "source_snapshot_time": _iso(outcome.get("source_time_ms")),
        "snapshot_id": outcome.get("snapshot_id") or None,
        "row_count": rows,
        "previous_export": outcome.get("previous_export"),
        "previous_row_count": previous,
        "row_change": rows - previous if isinstance(rows, int) and isinstance(previous, int) else None,
        "new_table": new_table,
        "became_empty": bool(rows == 0 and isinstance(previous, int) and previous > 0),
        "lost_most_rows": bool(isinstance(rows, int) and isinstance(previous, int) and previous > 0 and 0 < rows < previous * LOST_MOST_FRACTION),
        "added_columns": list(outcome.get("added") or []),
        "dropped_columns": list(outcome.get("dropped") or []),
        "retyped_columns": [_change(c) for c in outcome.get("retyped") or []],
        "refused_columns": [_change(c) for c in outcome.get("refused") or []],
        "archived_as": outcome.get("archived_as"),
        "reason": outcome.get("reason"),
    }


def _change(change: Mapping[str, Any]) -> dict[str, Any]:
    return {"column_name": change.get("column"), "from_type": change.get("from"), "to_type": change.get("to")}


def json_lines(rows: Sequence[Mapping[str, Any]]) -> bytes:
    return "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in rows).encode()


def _schema_change(r: Mapping[str, Any]) -> str:
    parts = [f"+{c}" for c in r["added_columns"]] + [f"-{c}" for c in r["dropped_columns"]]
    parts += [f"~{c['column_name']} {c['from_type']}->{c['to_type']}" for c in r["retyped_columns"]]
    parts += [f"!{c['column_name']} {c['from_type']}->{c['to_type']}" for c in r["refused_columns"]]
    return " ".join(parts)


def summary(rows: Sequence[Mapping[str, Any]], uri: str) -> dict[str, Any]:
    """What the run's result carries: counts and the first few tables of each kind (bounded, whatever the table count).

    Only the names shown are ever spelled out, so neither time nor memory grows with the length of
    the names and column lists of the tables past them.
    """
    shown: dict[str, list[str]] = {"new": [], "schema": [], "lost_most_rows": [], "became_empty": [], "refused": []}
    counts = dict.fromkeys(shown, 0)

    def counted(kind: str) -> bool:
        """Count one more table of ``kind``; whether its name is still to be shown."""
        counts[kind] += 1
        return len(shown[kind]) < NAMES_SHOWN

    for r in rows:
        if r.get("status") == "left_out":
            continue
        name = str(r.get("source_table"))[:200]
        if r["new_table"] and counted("new"):
            shown["new"].append(name)
        if (r["added_columns"] or r["dropped_columns"] or r["retyped_columns"] or r["refused_columns"]) and counted("schema"):
            shown["schema"].append(f"{name} ({_schema_change(r)})"[:200])
        if r["refused_columns"] and counted("refused"):
            shown["refused"].append(f"{name} (history kept as {r['archived_as']})"[:200])
        if r["lost_most_rows"] and counted("lost_most_rows"):
            shown["lost_most_rows"].append(f"{name} ({r['previous_row_count']} -> {r['row_count']} rows)"[:200])
        if r["became_empty"] and counted("became_empty"):
            shown["became_empty"].append(f"{name} ({r['previous_row_count']} -> 0 rows)"[:200])
    result: dict[str, Any] = {"drift_log": uri}
    for kind, first in shown.items():
        result[kind] = {"count": counts[kind], "first": first}
    return result


def table_input(bucket: str, stack: str) -> dict[str, Any]:
    """The Glue table over every export's drift log file."""
    table = {
        "Name": TABLE_NAME,
        "TableType": "EXTERNAL_TABLE",
        "Description": "One row per table per export: rows and columns against the previous export (aurora-lake drift log).",
        "Parameters": {"EXTERNAL": "TRUE", "classification": "json", ownership.STACK: stack, ownership.TABLE_ROLE: ROLE},
        "PartitionKeys": [],
        "StorageDescriptor": {
            "Columns": [{"Name": name, "Type": kind, "Comment": comment[: glue_limits.COMMENT_MAX]} for name, kind, comment in COLUMNS],
            "Location": f"s3://{bucket}/{naming.DRIFT_LOG_FOLDER}",
            "InputFormat": TEXT_INPUT_FORMAT,
            "OutputFormat": TEXT_OUTPUT_FORMAT,
            "Compressed": False,
            "SerdeInfo": {"SerializationLibrary": JSON_SERDE, "Parameters": {"serialization.format": "1"}},
        },
    }
    return table


def is_ours(parameters: Mapping[str, Any] | None, stack: str) -> bool:
    found = parameters or {}
    return found.get(ownership.STACK) == stack and found.get(ownership.TABLE_ROLE) == ROLE
