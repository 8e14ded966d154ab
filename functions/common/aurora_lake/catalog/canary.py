"""The canary: Athena counts what a run committed, and the counts must be the manifests' exact ones.

RDS writes Parquet without Iceberg field ids; a reader binds the files' columns to the table's
fields through the name mapping. Whether Athena does is not documented (FIDELITY.md, "Apache
Iceberg tables": UNCONFIRMED); an engine that does not reads every column as NULL, silently. So
after a run's commits, Athena is asked, for a few tables, ``count(*)`` and ``count(column)`` at the
snapshot just written (``FOR VERSION AS OF``), and the answers are compared with what the
manifests record (each file's record count and its column's null count, from the Parquet footers).
Any difference, or a query that fails, fails the run with ``IcebergCanaryFailed`` naming the
table, the column and both counts: a wrong assumption shows in the first real run, not in an
analyst's empty column weeks later.

Which tables: those a reader has not read before - new tables, and tables with added or retyped
columns - at most ``MAX_QUERIES`` a run, smallest first (a query scans one column of one table), and
for a table with added columns one of those columns. A run that created or changed nothing asks
nothing. A table whose files carry no null counts for any column (footers without statistics)
cannot be checked exactly; it is named in the result instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aurora_lake.catalog.runner import Unit, run_units
from aurora_lake.errors import AthenaQueryFailed, IcebergCanaryFailed, aws_error

MAX_QUERIES = 3
_CONCURRENCY = 3


def choose(candidates: Sequence[Mapping[str, Any]], limit: int = MAX_QUERIES) -> tuple[list[dict[str, Any]], list[str]]:
    """The canaries to run (smallest tables first) and the tables that could not be checked."""
    checkable = sorted((c for c in candidates if c.get("column")), key=lambda c: (int(c.get("bytes") or 0), str(c.get("table"))))
    unchecked = sorted({str(c.get("table")) for c in candidates if not c.get("column")})
    return [dict(c) for c in checkable[:limit]], unchecked


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def statement(database: str, candidate: Mapping[str, Any]) -> str:
    return (
        f"SELECT count(*) AS row_count, count({_identifier(str(candidate['column']))}) AS value_count "
        f"FROM {_identifier(database)}.{_identifier(str(candidate['table']))} FOR VERSION AS OF {int(candidate['snapshot_id'])}"
    )


def _counts(athena: Any, query_id: str) -> tuple[int | None, int | None]:
    try:
        rows = athena.get_query_results(QueryExecutionId=query_id, MaxResults=2)["ResultSet"]["Rows"]
    except Exception as exc:
        if hasattr(exc, "response"):
            raise aws_error(exc) from exc
        raise

    def number(text: Any) -> int | None:
        try:
            return int(text)
        except (TypeError, ValueError):
            return None

    # A SELECT's first row holds the column names (public readers skip it); the counts are the first row of numbers.
    for found in rows:
        values = [number(datum.get("VarCharValue")) for datum in found.get("Data", [])]
        if len(values) >= 2 and values[0] is not None:
            return values[0], values[1]
    return None, None


def run(athena: Any, database: str, workgroup: str, canaries: Sequence[Mapping[str, Any]], start: int, deadline: float) -> dict[str, Any]:
    """Run the canaries from ``start`` until done or the deadline; IcebergCanaryFailed on any difference."""
    units = [Unit((statement(database, c),)) for c in canaries]
    try:
        ran = run_units(athena, units, start, database=database, workgroup=workgroup, concurrency=_CONCURRENCY, deadline=deadline)
    except AthenaQueryFailed as exc:
        raise IcebergCanaryFailed(
            f"Athena could not run the canary query over a table this run committed, so whether it reads the Iceberg tables "
            f"as written is unknown: {exc}"
        ) from None
    checked = []
    for index, query_id in sorted(ran.query_ids.items()):
        canary = canaries[index]
        rows, values = _counts(athena, query_id)
        expected = (int(canary["rows"]), int(canary["non_null"]))
        checked.append({"table": canary["table"], "column": canary["column"], "rows": rows, "values": values})
        if (rows, values) != expected:
            raise IcebergCanaryFailed(
                f"Athena read table {canary['table']} (snapshot {canary['snapshot_id']}) as {rows} rows with {values} values in column "
                f"{canary['column']!r}; its manifests record {expected[0]} rows and {expected[1]} values (query {query_id}). "
                + ("Athena read the column as NULL: it does not apply the table's name mapping to files without field ids."
                   if rows == expected[0] and values == 0 else "Athena does not read the table as written.")
            )
    return {"cursor": ran.cursor, "done": ran.done, "checked": checked}
