"""Run one export in the emulated account: ``python -m emulated_account.runner`` (``make demo``).

Prints each state as it was entered, with the simulated time since the start,
the final notification as an e-mail reader sees it, and the status. After a
successful run it runs the notification's sample query (then each ``--query``)
with DuckDB over the exported files, through the tables the run created
(``lake_query``), and prints each result as DuckDB draws it. With ``--json`` the
last line of stdout is one JSON object (``ExecutionResult.summary`` plus
``query`` and ``queries``).

``--history`` (what ``make demo`` runs) exports the demo cluster twice, a day apart, its tables
changed in between as applications change them (``data.demo_tables_a_day_later``: a column
dropped, one added, one widened, a table that lost most of its rows, one that became empty), and
runs the queries an analyst runs on the history: the drift log of the second export, the table's
``$history``, and last a time travel query that shows both exports side by side.
Exit status: 0 when the execution SUCCEEDED and its queries ran, 1 otherwise, 2
for a usage error.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

DEFAULT_INPUT: dict[str, Any] = {"cluster_identifier": "demo-aurora-cluster"}
# Inputs with these keys go to the fleet state machine.
FLEET_KEYS = frozenset({"cluster_identifiers", "db_instance_identifiers", "source_accounts", "scheduled"})


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse's own exit status for usage errors is 2
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _fault(text: str) -> Any:
    from emulated_account.faults import Fault

    try:
        return Fault.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value < 0:
        raise argparse.ArgumentTypeError("the duration must not be negative")
    return value


def _parameter(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m emulated_account.runner",
        description="Run the export workflow once in the local emulated AWS account (simulated time).",
    )
    parser.add_argument(
        "--input", metavar="FILE",
        help="execution input (JSON); default: a new snapshot of demo-aurora-cluster. An object with "
        "cluster_identifiers, db_instance_identifiers, source_accounts or scheduled starts the fleet state machine; "
        "with source_accounts (or account_id) the lake deploys with the emulated organization's source accounts",
    )
    parser.add_argument("--json", action="store_true", help="print a JSON summary as the last line of stdout")
    parser.add_argument("--export-outcome", choices=("complete", "failed", "canceled"), default="complete", help="how the export task ends")
    parser.add_argument("--failure-cause", metavar="TEXT", help="FailureCause of a failed export")
    parser.add_argument("--export-duration", metavar="SECONDS", type=_seconds, default=900.0, help="simulated duration of the export (default 900)")
    parser.add_argument("--export-tables-info", metavar="FILE", help="export_tables_info JSON the export writes verbatim (with Parquet files to match)")
    parser.add_argument(
        "--fault",
        metavar="SERVICE:Operation:ErrorCode:COUNT",
        type=_fault,
        action="append",
        default=[],
        help="fail the first COUNT calls of an AWS operation with ErrorCode (repeatable)",
    )
    parser.add_argument("--snapshot-duration", metavar="SECONDS", type=_seconds, default=180.0, help="simulated snapshot creation time (default 180)")
    parser.add_argument("--timeout", metavar="SECONDS", type=_seconds, default=600.0, help="real-time limit for the run (default 600)")
    parser.add_argument(
        "--query",
        metavar="SQL",
        action="append",
        default=[],
        help="after a successful run, also run this SQL over the tables it created (repeatable)",
    )
    parser.add_argument(
        "--parameter", metavar="NAME=VALUE", type=_parameter, action="append", default=[],
        help="a template parameter of the emulated deployment, e.g. ExportTimeoutSeconds=158400 (repeatable)",
    )
    parser.add_argument("--verbose", action="store_true", help="show the functions' logs on stderr")
    parser.add_argument(
        "--history", action="store_true",
        help="export demo-aurora-cluster twice, a day apart, with schema and data changes in between, "
        "and end with a time travel query over both exports (what make demo runs; ignored with --input)",
    )
    parser.add_argument(
        "--athena-ignores-name-mapping", action="store_true",
        help="Athena reads Iceberg tables without their name mapping (every column NULL): the run's canary must fail it",
    )
    return parser


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")


def _read_json(parser: argparse.ArgumentParser, option: str, path: str) -> tuple[Any, bytes]:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        parser.error(f"{option}: cannot read {path}: {exc.strerror or exc}")
    try:
        return json.loads(raw, parse_constant=_not_json), raw
    except (ValueError, UnicodeDecodeError) as exc:
        parser.error(f"{option}: {path} is not valid JSON: {exc}")
    raise AssertionError("unreachable")


def format_elapsed(seconds: float) -> str:
    whole = int(round(seconds))
    return f"+{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def email_body(message: str) -> str:
    """What an e-mail subscriber reads: the ``email`` (or ``default``) text of a JSON message structure."""
    try:
        document = json.loads(message)
    except ValueError:
        return message
    if isinstance(document, dict) and isinstance(document.get("email", document.get("default")), str):
        return document.get("email", document.get("default"))
    return message


@dataclass
class LakeQueries:
    """The queries run after a successful execution, in order; the first failure stops them."""

    sample_sql: str | None
    # The notification's other suggested queries that run too (a fleet over source accounts: one per source).
    more_samples: list[str] = field(default_factory=list)
    results: list[Any] = field(default_factory=list)
    error: str | None = None
    failed_sql: str | None = None

    def summary(self) -> dict[str, Any]:
        """``query``: the notification's sample query; ``queries``: each ``--query``."""
        entries = [result.as_json() for result in self.results]
        if self.failed_sql is not None:
            entries.append({"sql": self.failed_sql, "error": self.error})
        if self.sample_sql is None:
            return {"query": None, "queries": entries}
        if self.more_samples:
            # ``sample_queries``: every suggested query that ran, the first included.
            samples = entries[: 1 + len(self.more_samples)]
            return {"query": entries[0], "sample_queries": samples, "queries": entries[1 + len(self.more_samples) :]}
        return {"query": entries[0], "queries": entries[1:]}


def query_the_lake(account: Any, result: Any, extra_sql: Sequence[str], every_sample: bool = False) -> LakeQueries:
    """The notification's sample query (``every_sample``: each one it suggests), then each of ``extra_sql``."""
    from emulated_account import lake_query

    message = email_body(result.notifications[-1]["message"]) if result.notifications else ""
    outcome = LakeQueries(sample_sql=lake_query.sample_query(message))
    if every_sample and outcome.sample_sql:
        outcome.more_samples = lake_query.sample_queries(message)[1:]
    database = str(account.template.ref("GlueDatabase"))
    samples = [outcome.sample_sql, *outcome.more_samples] if outcome.sample_sql else []
    for sql in [*samples, *extra_sql]:
        try:
            outcome.results.append(lake_query.run_query(sql, account.client("glue"), account.client("s3"), database))
        except (lake_query.DeclaredTypeError, lake_query.LakeQueryError) as exc:
            outcome.error, outcome.failed_sql = str(exc), sql
            break
    return outcome


HISTORY_TABLE = "demo_aurora_cluster__mydb__public__users"


def history_queries(database: str, between: float, second_export: str) -> list[str]:
    """What an analyst asks of the demo's history: the drift log, the table's history, both exports side by side (last)."""
    import datetime as dt

    when = dt.datetime.fromtimestamp(between, tz=dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    table = f'"{database}"."{HISTORY_TABLE}"'
    return [
        f'SELECT source_table, status, previous_row_count, row_count, added_columns, dropped_columns, retyped_columns, lost_most_rows, became_empty '
        f'FROM "{database}"."aurora_lake_drift_log" WHERE export_task_identifier = \'{second_export}\' ORDER BY source_table;',
        f'SELECT made_current_at, snapshot_id, parent_id FROM "{database}"."{HISTORY_TABLE}$history" ORDER BY made_current_at;',
        # Last, what the demo ends with: the table as of the first export beside the table now.
        f"SELECT 'first export (as of {when})' AS version, count(*) AS row_count, max(login_count) AS max_logins, "
        f"count(flags) AS with_flags, NULL AS with_nickname FROM {table} FOR TIMESTAMP AS OF TIMESTAMP '{when}' "
        f"UNION ALL SELECT 'second export (now)', count(*), max(login_count), NULL, count(nickname) FROM {table} ORDER BY version;",
    ]


def _names_source_accounts(execution_input: Any) -> bool:
    """Whether the input names clusters of source accounts (a fleet's source_accounts, or an account_id)."""
    return isinstance(execution_input, dict) and ("source_accounts" in execution_input or "account_id" in execution_input)


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None) -> int:  # noqa: C901
    parser = build_parser()
    args = parser.parse_args(argv)
    out = stdout or sys.stdout
    execution_input: Any = DEFAULT_INPUT
    if args.input:
        args.history = False  # the history demo is the demo cluster's: a given input runs once
        execution_input, _ = _read_json(parser, "--input", args.input)
    tables_info: bytes | None = None
    if args.export_tables_info:
        _, tables_info = _read_json(parser, "--export-tables-info", args.export_tables_info)

    from emulated_account.account import EmulatedAccount
    from emulated_account.rds_sim import ExportBehaviour

    behaviour_kwargs: dict[str, Any] = {"duration_seconds": args.export_duration, "outcome": args.export_outcome, "tables_info": tables_info}
    if args.failure_cause:
        behaviour_kwargs["failure_cause"] = args.failure_cause
    parameters = dict(args.parameter)
    organization = _names_source_accounts(execution_input)
    if organization:
        from emulated_account import data

        # The emulated organization's deployment, unless the command line says otherwise.
        parameters.setdefault("OrganizationId", data.ORGANIZATION_ID)
    handler_output: TextIO = sys.stderr if args.verbose else io.StringIO()
    if not args.verbose:
        import logging

        # The interpreter logs every caught task failure; the summary below already reports them.
        logging.getLogger("moto").setLevel(logging.CRITICAL)
    try:
        with EmulatedAccount(
            faults=args.fault,
            export=ExportBehaviour(**behaviour_kwargs),
            snapshot_seconds=args.snapshot_duration,
            handler_output=handler_output,
            parameters=parameters,
            athena_reads_name_mapping=not args.athena_ignores_name_mapping,
        ) as account:
            # A fleet input goes to the fleet state machine, as a user would start it.
            fleet = isinstance(execution_input, dict) and bool(FLEET_KEYS & set(execution_input))
            first = None
            extra = list(args.query)
            try:
                if fleet:
                    result = account.run_fleet(execution_input, timeout=args.timeout)
                else:
                    result = account.run(execution_input, timeout=args.timeout)
                if args.history and result.status == "SUCCEEDED":
                    first, between = result, account.clock.now()
                    from emulated_account import data

                    # A day later, the applications have changed the demo cluster's tables.
                    account.rds.set_tables("demo-aurora-cluster", data.demo_tables_a_day_later())
                    account.clock.advance(24 * 3600)
                    result = account.run(execution_input, timeout=args.timeout)
                    second_export = result.export_tasks[-1]["id"] if result.export_tasks else ""
                    extra = history_queries(str(account.template.ref("GlueDatabase")), between, second_export) + extra
            except TimeoutError as exc:
                print(f"Status: TIMED_OUT ({exc})", file=out)
                if args.json:
                    print(json.dumps({"status": "TIMED_OUT", "error": "EmulatorTimeout", "cause": str(exc)}), file=out)
                return 1
            queries = query_the_lake(account, result, extra, every_sample=organization) if result.status == "SUCCEEDED" else None
    finally:
        if not args.verbose and isinstance(handler_output, io.StringIO):
            handler_output.close()

    if first is not None:
        task = first.export_tasks[-1]["id"] if first.export_tasks else "?"
        print(f"First export: {first.status} (export task {task}); a day later the demo cluster's tables changed "
              "(users: flags dropped, nickname added, login_count widened to bigint; events lost most rows; order_items emptied). "
              "Second export:", file=out)
    for entry in result.state_entries:
        print(f"[{format_elapsed(entry.simulated_seconds)}] {entry.name}", file=out)
    for notification in result.notifications[-1:]:
        print("", file=out)
        print("--- Notification (as e-mailed) ---", file=out)
        print(f"Subject: {notification['subject'] or ''}", file=out)
        print("", file=out)
        print(email_body(notification["message"]).rstrip(), file=out)
        print("--- End of notification ---", file=out)
    print("", file=out)
    print(f"Status: {result.status}", file=out)
    if result.error or result.cause:
        print(f"Error: {result.error}", file=out)
        print(f"Cause: {result.cause}", file=out)
    print(
        f"Simulated time: {format_elapsed(result.simulated_seconds)[1:]} ({result.simulated_seconds:.0f} s); "
        f"state transitions: {result.state_transitions}",
        file=out,
    )
    if queries is not None:
        if queries.sample_sql is None:
            print("\nNo sample query: the notification suggests none (no table was created).", file=out)
        for query_result in queries.results:
            print("", file=out)
            print(f"--- Query (DuckDB over the lake, read as Athena reads its tables) ---\n{query_result.sql}", file=out)
            print(query_result.table, file=out)
        if queries.error:
            print("", file=out)
            print(f"Query failed: {queries.error}", file=out)
    if args.json:
        summary = result.summary() | (queries.summary() if queries is not None else {"query": None, "queries": []})
        if first is not None:
            summary["first_export"] = {"status": first.status, "export_tasks": [task["id"] for task in first.export_tasks]}
        print(json.dumps(summary, default=str), file=out)
    out.flush()
    return 0 if result.status == "SUCCEEDED" and queries is not None and queries.error is None else 1


if __name__ == "__main__":
    sys.exit(main())
