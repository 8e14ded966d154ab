"""The performance benchmark: ``python -m emulated_account.bench`` (``make bench``).

Everything is measured in this run, with the real state machine and handlers in
the emulated account:

* polling: one execution per export duration (a new snapshot that takes
  3 simulated minutes, the export following ``rds_sim.export_progress``) with every
  RDS export event lost, so only the adaptive polls notice the end; and the same
  execution again with every poll fixed at 60 s (``POLL_FIXED_WAIT_SECONDS``).
  Transitions are counted as Step Functions bills them (every state entered, every
  retry); the detection latency is the simulated time from the export task's end to
  the CheckExport that saw it COMPLETE.
* events: the same executions with RDS's export-finished event delivered
  ``--event-delay`` seconds after the export's end (RDS documents no delivery
  latency) to the template's rule and the real WakeExportWait handler, which ends
  the export wait. The emulated handlers and API calls take no simulated time, so
  the detection latency is the delivery delay itself.
* cold_start: the median, over fresh interpreters, of importing each handler module
  and creating the clients it uses, against a bare handler that imports boto3 and
  creates one client, in CPU seconds of the process (imports are CPU-bound, and
  CPU time is not skewed by other work on the machine). Interpreter start-up,
  common to both, is not counted.
* athena: a 5,000-table export with 1.5 s of simulated Athena latency per DDL
  query and Athena's default of 20 concurrent DDL queries.

The table goes to stdout; with ``--json`` the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO
from unittest import mock

REPO_ROOT = Path(__file__).resolve().parent.parent
COMMON = REPO_ROOT / "functions" / "common"
EXPORT_DURATIONS = (600, 3600, 21600, 86400)
SNAPSHOT_SECONDS = 180.0
BASELINE_WAIT_SECONDS = 60
EVENT_DELAY_SECONDS = 5.0
EXECUTION_INPUT = {"cluster_identifier": "demo-aurora-cluster"}
ATHENA_TABLES = 5000
ATHENA_DDL_LATENCY = 1.5
ATHENA_DDL_CONCURRENCY = 20
# Clients each handler creates when it runs (what its role lets it call).
FUNCTION_CLIENTS: dict[str, tuple[str, ...]] = {
    "ValidateInputFunction": (),
    "CreateSnapshotFunction": ("rds",),
    "CheckSnapshotFunction": ("rds",),
    "StartExportFunction": ("rds",),
    "CheckExportFunction": ("rds",),
    "CreateAthenaTablesFunction": ("s3", "athena", "glue"),
    "DeleteSnapshotFunction": ("rds",),
    "NotifyFunction": ("s3", "sns"),
    "WakeExportWaitFunction": ("rds", "s3", "stepfunctions"),
}
# Environment of a cold start as the emulated account gives it (no X-Ray daemon: tracing off).
COLD_START_ENV = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "POWERTOOLS_TRACE_DISABLED": "true",
}

# CPU time of the process: imports are CPU-bound, and CPU time stays comparable on a loaded machine.
_TIMED_IMPORT = """
import time
started = time.process_time()
{body}
print(time.process_time() - started)
"""
BARE_HANDLER = "import boto3\nboto3.client('rds')"


# -- polling -------------------------------------------------------------------------------------
def run_export(
    export_seconds: float, fixed_wait: int | None = None, timeout: float = 1800.0, event_delay: float | None = None
) -> Any:
    """One execution of the real workflow; with ``fixed_wait`` every poll waits that long.

    Export events are lost unless ``event_delay`` is given: then RDS's event reaches the
    template's rule that many seconds after the export's end.
    """
    from emulated_account.account import EmulatedAccount
    from emulated_account.eventbridge_sim import EventDelivery
    from emulated_account.rds_sim import ExportBehaviour

    environment = {"POLL_FIXED_WAIT_SECONDS": str(fixed_wait)} if fixed_wait else {}
    delivery = EventDelivery(drop=True) if event_delay is None else EventDelivery(delay_seconds=event_delay)
    with mock.patch.dict(os.environ, environment), EmulatedAccount(
        export=ExportBehaviour(duration_seconds=export_seconds),
        snapshot_seconds=SNAPSHOT_SECONDS,
        handler_output=io.StringIO(),
        export_events=delivery,
    ) as account:
        result = account.run(EXECUTION_INPUT, timeout=timeout)
    if result.status != "SUCCEEDED":
        raise RuntimeError(f"the {export_seconds:.0f} s export ended {result.status}: {result.error} {result.cause}")
    return result


def detection_latency(result: Any) -> float:
    """Simulated seconds from the export task's end to the CheckExport that saw it COMPLETE."""
    [task] = result.export_tasks
    checks = [entry.simulated_seconds for entry in result.state_entries if entry.name == "CheckExport"]
    return checks[-1] - (task["ends_at"] - result.started_at)


def polling_row(export_seconds: float, baseline: bool = True) -> dict[str, Any]:
    adaptive = run_export(export_seconds)
    row: dict[str, Any] = {
        "export_seconds": int(export_seconds),
        "transitions": adaptive.state_transitions,
        "baseline_transitions": None,
        "detection_latency_seconds": round(detection_latency(adaptive), 1),
    }
    if baseline:
        row["baseline_transitions"] = run_export(export_seconds, fixed_wait=BASELINE_WAIT_SECONDS).state_transitions
    return row


def events_row(export_seconds: float, event_delay: float = EVENT_DELAY_SECONDS) -> dict[str, Any]:
    woken = run_export(export_seconds, event_delay=event_delay)
    return {
        "export_seconds": int(export_seconds),
        "transitions": woken.state_transitions,
        "detection_latency_seconds": round(detection_latency(woken), 1),
    }


# -- cold starts ---------------------------------------------------------------------------------
def _timed(body: str, environment: dict[str, str], cwd: Path) -> float:
    completed = subprocess.run(
        [sys.executable, "-c", _TIMED_IMPORT.format(body=body)],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"cold start failed: {completed.stderr.strip()[-2000:]}")
    return float(completed.stdout.strip().splitlines()[-1])


def _base_environment() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT", "TMPDIR")
    return {key: os.environ[key] for key in keep if key in os.environ} | COLD_START_ENV


@dataclass(frozen=True)
class FunctionCode:
    logical_id: str
    code_dir: Path
    module: str
    environment: dict[str, str]


def function_code() -> list[FunctionCode]:
    """Each function's code, handler module and literal environment, read from template.yaml.

    A cold start imports the handler module, which reads no deployed resource names: those
    are read when the handler runs, so no account needs to be deployed for this.
    """
    from emulated_account.account import DEFAULT_TEMPLATE
    from emulated_account.template import load

    document = load(DEFAULT_TEMPLATE)
    defaults = (document.get("Globals") or {}).get("Function") or {}
    found = []
    for logical_id, resource in (document.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = {**defaults, **(resource.get("Properties") or {})}
        variables = {
            **((defaults.get("Environment") or {}).get("Variables") or {}),
            **(((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}),
        }
        found.append(
            FunctionCode(
                logical_id=logical_id,
                code_dir=(DEFAULT_TEMPLATE.parent / properties["CodeUri"]).resolve(),
                module=str(properties["Handler"]).rpartition(".")[0],
                environment={k: str(v) for k, v in variables.items() if isinstance(v, (str, int, float))},
            )
        )
    return found


def cold_start_rows(runs: int = 5, only: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Median cold import of every handler (or ``only`` these) against the bare boto3 handler, interleaved run by run."""
    base = _base_environment()
    functions = [f for f in function_code() if only is None or f.logical_id in only]
    bare: list[float] = []
    measured: dict[str, list[float]] = {definition.logical_id: [] for definition in functions}
    for _ in range(runs):
        bare.append(_timed(BARE_HANDLER, base, REPO_ROOT))
        for definition in functions:
            clients = "".join(f"\nclient({service!r})" for service in FUNCTION_CLIENTS.get(definition.logical_id, ()))
            body = f"import {definition.module}\nfrom aurora_lake.clients import client{clients}"
            environment = base | definition.environment | {
                "PYTHONPATH": os.pathsep.join([str(definition.code_dir), str(COMMON)])
            }
            measured[definition.logical_id].append(_timed(body, environment, definition.code_dir))
    baseline = statistics.median(bare)
    return [
        {"function": name, "seconds": round(statistics.median(times), 4), "baseline_seconds": round(baseline, 4)}
        for name, times in measured.items()
    ]


# -- Athena at scale -----------------------------------------------------------------------------
def athena_result(tables: int = ATHENA_TABLES) -> dict[str, Any]:
    from emulated_account.account import EmulatedAccount
    from emulated_account.rds_sim import ExportBehaviour

    with EmulatedAccount(
        export=ExportBehaviour(duration_seconds=600, synthetic_tables=tables),
        snapshot_seconds=SNAPSHOT_SECONDS,
        athena_ddl_latency=ATHENA_DDL_LATENCY,
        athena_ddl_concurrency=ATHENA_DDL_CONCURRENCY,
        handler_output=io.StringIO(),
    ) as account:
        result = account.run(EXECUTION_INPUT, timeout=1800.0)
    if result.status != "SUCCEEDED":
        raise RuntimeError(f"the {tables}-table export ended {result.status}: {result.error} {result.cause}")
    entries = result.state_entries
    first = next(i for i, entry in enumerate(entries) if entry.name == "CreateAthenaTables")
    after = next(i for i in range(first, len(entries)) if entries[i].name not in ("CreateAthenaTables", "AreAthenaTablesCreated"))
    return {
        "tables": tables,
        "simulated_seconds": round(entries[after].simulated_seconds - entries[first].simulated_seconds, 1),
        "max_state_payload_bytes": result.max_state_payload_bytes,
    }


# -- report --------------------------------------------------------------------------------------
def print_table(report: dict[str, Any], out: TextIO) -> None:
    print("Polling (new snapshot: 180 s; transitions as billed; latency: export end -> CheckExport that saw it)", file=out)
    print(f"{'export':>10} {'transitions':>12} {'fixed 60 s':>11} {'latency s':>10}", file=out)
    for row in report["polling"]:
        print(
            f"{row['export_seconds']:>9}s {row['transitions']:>12} {row['baseline_transitions'] or '-':>11} "
            f"{row['detection_latency_seconds']:>10}",
            file=out,
        )
    if report.get("events"):
        print("", file=out)
        print(f"Export events delivered {report['event_delay_seconds']} s after the export's end (polling as above)", file=out)
        print(f"{'export':>10} {'transitions':>12} {'latency s':>10}", file=out)
        for row in report["events"]:
            print(f"{row['export_seconds']:>9}s {row['transitions']:>12} {row['detection_latency_seconds']:>10}", file=out)
    if report.get("cold_start"):
        print("", file=out)
        print("Cold start (median import + clients, fresh interpreters)", file=out)
        print(f"{'function':<28} {'seconds':>8} {'bare boto3':>11} {'ratio':>6}", file=out)
        for row in report["cold_start"]:
            ratio = row["seconds"] / row["baseline_seconds"]
            print(f"{row['function']:<28} {row['seconds']:>8.3f} {row['baseline_seconds']:>11.3f} {ratio:>6.2f}", file=out)
    if report.get("athena"):
        athena = report["athena"]
        print("", file=out)
        print(
            f"Athena: {athena['tables']} tables in {athena['simulated_seconds']} simulated s; "
            f"largest state payload {athena['max_state_payload_bytes']} bytes",
            file=out,
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m emulated_account.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object on the last line")
    parser.add_argument("--durations", type=float, nargs="+", default=list(EXPORT_DURATIONS), metavar="SECONDS", help="export durations")
    parser.add_argument("--no-baseline", action="store_true", help="skip the fixed 60 s runs")
    parser.add_argument("--event-delay", type=float, default=EVENT_DELAY_SECONDS, metavar="SECONDS",
                        help=f"delivery delay of RDS's export events in the events rows (default {EVENT_DELAY_SECONDS:g}; negative skips them)")
    parser.add_argument("--cold-start-runs", type=int, default=7, metavar="N", help="fresh interpreters per function (default 7, 0 skips)")
    parser.add_argument("--athena-tables", type=int, default=ATHENA_TABLES, metavar="N", help="tables of the Athena run (0 skips)")
    return parser


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = stdout or sys.stdout
    # The interpreter logs every caught task failure; the report says what matters.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    report: dict[str, Any] = {
        "polling": [polling_row(duration, baseline=not args.no_baseline) for duration in args.durations],
        "events": [events_row(duration, args.event_delay) for duration in args.durations] if args.event_delay >= 0 else [],
        "event_delay_seconds": args.event_delay if args.event_delay >= 0 else None,
        "cold_start": cold_start_rows(args.cold_start_runs) if args.cold_start_runs > 0 else [],
        "athena": athena_result(args.athena_tables) if args.athena_tables > 0 else None,
    }
    print_table(report, out)
    if args.json:
        print(json.dumps(report), file=out)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
