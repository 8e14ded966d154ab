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
from collections import Counter
from collections.abc import Mapping, Sequence
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
    "FleetFunction": ("s3", "sns"),
    "ListSourcesFunction": (),
    "RouteTriggerFunction": ("stepfunctions",),
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


# -- an organization at scale -------------------------------------------------------------------
ORGANIZATION_ACCOUNTS = 200
ORGANIZATION_SOURCES = 1000
FLEET_MAX_CONCURRENCY = 5
# The whole organization (no OUs): the management account and the Sandbox accounts are listed but
# never reached by the stack set. The lake's own DB instances are left out (one cannot export, by design of the demo).
ORGANIZATION_PARAMETERS = {"AllowedDBInstanceIdentifiers": "", "FleetMaxConcurrency": str(FLEET_MAX_CONCURRENCY)}
STATE_LIMIT = 262_144  # Step Functions: 256 KiB per state's input or output
SNS_LIMIT = 262_144  # SNS: 256 KB per message, subject and attributes included
# AWS's documented limits: S3 bucket policy 20 KB, KMS key policy 32 KB, EventBridge bus policy
# 10,240 characters, IAM inline policies 10,240 characters per role (aggregate, whitespace not counted).
POLICY_LIMITS = {"bucket_policy": 20_480, "key_policy": 32_768, "bus_policy": 10_240, "largest_role_inline": 10_240}


def _compact(document: Any) -> int:
    return len(json.dumps(document, separators=(",", ":")).encode("utf-8"))


def policy_sizes(account: Any) -> dict[str, int]:
    """The lake's bucket, key and bus policies and its largest role's inline policies (all of them), in characters without whitespace."""
    org = account.organization
    state = json.loads(account.lake_stack_state())
    roles = {name: sum(_compact(json.loads(d) if isinstance(d, str) else d) for d in documents) for name, documents in state["roles"].items()}
    return {
        "bucket_policy": max(_compact(policy) for policy in org.bucket_policies.values()),
        "key_policy": max(_compact(policy) for policy in org.key_policies.values()),
        "bus_policy": _compact(org.bus_policy),
        "largest_role_inline": max(roles.values()),
    }


def most_at_once(intervals: Sequence[tuple[float, float]]) -> int:
    """The most intervals (start, end) open at one moment; one that ends when another starts does not overlap it."""
    events = sorted([(end, -1) for _, end in intervals] + [(start, 1) for start, _ in intervals])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def export_concurrency(tasks: Sequence[Mapping[str, Any]], lake_account: str) -> dict[str, Any]:
    """From RDS's own record of export tasks: the most at once in any one account, and in all of them."""
    by_account: dict[str, list[tuple[float, float]]] = {}
    for task in tasks:
        by_account.setdefault(str(task.get("account_id", lake_account)), []).append((task["started_at"], task["ends_at"]))
    every = [interval for intervals in by_account.values() for interval in intervals]
    per_account = {account: most_at_once(intervals) for account, intervals in by_account.items()}
    busiest = max(per_account, key=lambda account: per_account[account])
    return {"most_in_one_account": per_account[busiest], "account": busiest, "most_in_all_accounts": most_at_once(every),
            "accounts_exporting": len(by_account)}


def largest_states(account: Any) -> dict[str, int]:
    """The largest state (input or output of any transition) of every fleet and export execution, and of
    every account's child execution of the Distributed Map (its item and its output, the account's outcomes)."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    backend = stepfunctions_parser_backends[account.account_id][account.region]
    largest = {"fleet": 0, "export": 0, "account_child": 0}
    for execution in backend._get_executions():
        arn = str(execution.execution_arn)
        kind = "fleet" if ":execution:" + account.template.stack_name + "-ExportFleet:" in arn else "export"
        size = 0
        for event in account.history(arn):
            for details in event.values():
                if isinstance(details, dict):
                    for key in ("input", "output"):
                        if isinstance(details.get(key), str):
                            size = max(size, len(details[key].encode()))
        largest[kind] = max(largest[kind], size)
    for children in account.map_runs.children.values():
        for child in children:
            largest["account_child"] = max(largest["account_child"], _compact(child.input), _compact(child.output) if child.output is not None else 0)
    return largest


def _due_sources(account: Any, layout: Any, reached: Sequence[str]) -> set[tuple[str, str]]:
    """(account, source) of every source a first scheduled run must export: the lake's allow-list, and each reached
    account's sources tagged for this lake that are not manual."""
    lake = account.template.stack_name
    due = {(account.account_id, name) for name in str(account.template.parameter("AllowedClusterIdentifiers")).split(",") if name.strip()}
    for member in reached:
        for spec in (*layout.clusters.get(member, ()), *layout.db_instances.get(member, ())):
            if layout.tag(member, spec.identifier) == lake and layout.tag(member, spec.identifier, "aurora-lake:schedule") != "manual":
                due.add((member, spec.identifier))
    return due


def _exported(tasks: Sequence[Mapping[str, Any]], lake_account: str) -> list[tuple[str, str]]:
    return [(str(t.get("account_id", lake_account)), t["source_arn"].split(":")[6].split("-lake-")[0]) for t in tasks]


def _fleet_email(account: Any, execution_name: str) -> Mapping[str, Any]:
    found = [n for n in account.notifications() if execution_name in n["message"]]
    if not found:
        raise RuntimeError(f"the fleet run {execution_name} sent no e-mail")
    return found[-1]


def _object_bytes(account: Any, key: str) -> int:
    return int(account.client("s3").head_object(Bucket=account.bucket, Key=key)["ContentLength"])


def _run_scheduled(account: Any, timeout: float) -> Any:
    result = account.run_fleet({"scheduled": True}, timeout=timeout)
    if result.status != "SUCCEEDED":
        raise RuntimeError(f"the scheduled fleet run ended {result.status}: {result.error} {str(result.cause)[:2000]}")
    return result


def organization_result(accounts: int = ORGANIZATION_ACCOUNTS, sources: int = ORGANIZATION_SOURCES, timeout: float = 7200.0,
                        compare_with_two_accounts: bool = True, max_accounts: int = 0, onboarding: bool = True) -> dict[str, Any]:
    """One scheduled fleet run over an emulated organization of ``accounts`` reached accounts and ``sources`` sources,
    then onboarding (an account and a database) and the next scheduled run. Raises when a property does not hold.
    ``compare_with_two_accounts``: also deploy an organization of 2 accounts and measure its policies.
    ``max_accounts``: the stack's FleetMaxAccounts (0: every account at once). ``onboarding=False``
    measures the first run only (no second run, ``onboarded`` empty and ``onboarding_changed_nothing`` None)."""
    import time

    from emulated_account import data, organization
    from emulated_account.account import EmulatedAccount

    cpu_started, wall_started = time.process_time(), time.monotonic()
    layout = organization.scale_layout(accounts, sources)
    parameters = {"OrganizationId": data.ORGANIZATION_ID, **ORGANIZATION_PARAMETERS, "FleetMaxAccounts": str(max_accounts)}
    with EmulatedAccount(parameters=parameters, organization_layout=layout, handler_output=io.StringIO()) as lake:
        org = lake.organization
        assert org is not None
        setup_cpu = time.process_time() - cpu_started
        reached = sorted(org.sources)
        policies = policy_sizes(lake)
        before = lake.lake_stack_state()
        run_cpu_started, calls_before = time.process_time(), len(lake.calls.calls)
        first = _run_scheduled(lake, timeout)
        run_cpu = time.process_time() - run_cpu_started
        exported = _exported(first.export_tasks, lake.account_id)
        due = _due_sources(lake, layout, reached)
        if len(exported) != len(set(exported)) or set(exported) != due:
            raise RuntimeError(f"the run exported {len(exported)} sources ({len(set(exported))} distinct), not the {len(due)} due: "
                               f"missing {sorted(due - set(exported))[:5]}, unexpected {sorted(set(exported) - due)[:5]}")
        concurrency = export_concurrency(first.export_tasks, lake.account_id)
        plan_calls: dict[str, int] = {}
        for call in lake.calls.calls[calls_before:]:
            if call.caller == "FleetFunction" and call.at <= first.started_at + 1:
                plan_calls[f"{call.service}:{call.operation}"] = plan_calls.get(f"{call.service}:{call.operation}", 0) + 1
        email = _fleet_email(lake, first.execution_arn.rsplit(":", 1)[-1])
        email_bytes = len(email["message"].encode()) + len((email["subject"] or "").encode()) + _compact(email["attributes"])
        from aurora_lake import naming

        sizes = {"sources_report": _object_bytes(lake, naming.SOURCES_REPORT_KEY),
                 "fleet_report": _object_bytes(lake, naming.fleet_report_key(first.execution_arn.rsplit(":", 1)[-1]))}
        states = largest_states(lake)
        sources_report = json.loads(lake.client("s3").get_object(Bucket=lake.bucket, Key="reports/sources/latest.json")["Body"].read())
        onboarded: set[tuple[str, str]] = set()
        unchanged: bool | None = None
        second = first
        if onboarding:
            # Onboarding: a new account joins an OU the stack set targets; a database owner tags a DB of another account.
            [(joining, joining_ou)] = layout.joining.items()
            [joining_source] = organization.clusters_of(joining, layout) or organization.db_instances_of(joining, layout)
            owner, untagged = next((member, spec) for member in reached
                                   for spec in (*layout.db_instances.get(member, ()), *layout.clusters.get(member, ()))
                                   if layout.tag(member, spec.identifier) is None)
            kind = "db" if isinstance(untagged, data.DbInstance) else "cluster"
            org.add_account(joining, joining_ou)
            lake.client("rds", owner).add_tags_to_resource(ResourceName=f"arn:aws:rds:{lake.region}:{owner}:{kind}:{untagged.identifier}",
                                                           Tags=[{"Key": "aurora-lake:export", "Value": lake.template.stack_name}])
            second = _run_scheduled(lake, timeout)
            newly = set(Counter(_exported(second.export_tasks, lake.account_id)) - Counter(exported))
            onboarded = {(joining, joining_source.identifier), (owner, untagged.identifier)}
            if not onboarded <= newly:
                raise RuntimeError(f"the run after onboarding did not export {sorted(onboarded - newly)}")
            unchanged = lake.lake_stack_state() == before
            if not unchanged:
                raise RuntimeError("onboarding an account and a database changed the lake stack")
        total_cpu, wall = time.process_time() - cpu_started, time.monotonic() - wall_started
    small_policies = None
    if compare_with_two_accounts:
        with EmulatedAccount(parameters=parameters, organization_layout=organization.scale_layout(2, 2), handler_output=io.StringIO()) as small:
            small_policies = policy_sizes(small)
    return {
        "accounts_listed": sources_report["accounts_listed"],
        "accounts_reached": sources_report["accounts_reached"],
        "accounts_unreachable": sources_report["accounts_unreachable"],
        "organizational_units": len(layout.units),
        "sources_known": sources_report["source_count"],
        "schedules": sources_report["schedules"],
        "sources_exported": len(exported),
        "fleet_max_concurrency": FLEET_MAX_CONCURRENCY,
        "concurrency": concurrency,
        "simulated_seconds": first.simulated_seconds,
        "plan_calls": plan_calls,
        "largest_state_bytes": states,
        "state_limit": STATE_LIMIT,
        "email_bytes": email_bytes,
        "email_lines": email["message"].count("\n") + 1,
        "email_limit": SNS_LIMIT,
        "report_bytes": sizes,
        "onboarded": sorted(f"{a}:{s}" for a, s in onboarded),
        "onboarding_changed_nothing": unchanged,
        "second_run_exported": len(second.export_tasks) - len(first.export_tasks),
        "policy_bytes": policies,
        "policy_bytes_two_accounts": small_policies,
        "policy_limits": POLICY_LIMITS,
        "cpu_seconds": {"setup": round(setup_cpu, 1), "first_run": round(run_cpu, 1), "total": round(total_cpu, 1)},
        "wall_seconds": round(wall, 1),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
    }


def print_organization(result: Mapping[str, Any], out: TextIO) -> None:
    c = result["concurrency"]
    print(f"Organization: {result['accounts_listed']} accounts listed in {result['organizational_units']} OUs, "
          f"{result['accounts_reached']} reached, {result['accounts_unreachable']} unreachable; "
          f"{result['sources_known']} sources known {result['schedules']}", file=out)
    print(f"Scheduled run: {result['sources_exported']} exports in {result['simulated_seconds']:.0f} simulated s; at most "
          f"{c['most_in_one_account']} at once in one account (FleetMaxConcurrency {result['fleet_max_concurrency']}), "
          f"{c['most_in_all_accounts']} at once over {c['accounts_exporting']} accounts", file=out)
    print(f"Discovery (the plan's calls): {result['plan_calls']}", file=out)
    print(f"Largest state (bytes, limit {result['state_limit']}): {result['largest_state_bytes']}", file=out)
    print(f"E-mail: {result['email_bytes']} bytes in {result['email_lines']} lines (limit {result['email_limit']}); "
          f"reports: {result['report_bytes']}", file=out)
    if result["onboarding_changed_nothing"] is None:
        print("Onboarding: not measured (--skip-onboarding)", file=out)
    else:
        print(f"Onboarded {result['onboarded']}: exported by the next run ({result['second_run_exported']} exports); "
              f"lake stack unchanged: {result['onboarding_changed_nothing']}", file=out)
    print(f"{'policy':<22} {'at this size':>13} {'2 accounts':>11} {'limit':>7}", file=out)
    for name, limit in result["policy_limits"].items():
        small = (result["policy_bytes_two_accounts"] or {}).get(name, "-")
        print(f"{name:<22} {result['policy_bytes'][name]:>13} {small:>11} {limit:>7}", file=out)
    print(f"CPU seconds: {result['cpu_seconds']}; real time {result['wall_seconds']} s; {result['machine']}", file=out)


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
    parser.add_argument("--organization", action="store_true",
                        help="instead: a scheduled fleet run over an emulated organization, onboarding, policy sizes")
    parser.add_argument("--accounts", type=int, default=ORGANIZATION_ACCOUNTS, metavar="N", help=f"reached accounts of --organization (default {ORGANIZATION_ACCOUNTS})")
    parser.add_argument("--skip-onboarding", action="store_true",
                        help="--organization: measure the first scheduled run only (no onboarding and second run)")
    parser.add_argument("--max-accounts", type=int, default=0, metavar="N",
                        help="FleetMaxAccounts of --organization: accounts exporting at once (default 0: all)")
    parser.add_argument("--sources", type=int, default=ORGANIZATION_SOURCES, metavar="N", help=f"due sources of --organization (default {ORGANIZATION_SOURCES})")
    return parser


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = stdout or sys.stdout
    # The interpreter logs every caught task failure; the report says what matters.
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    if args.organization:
        result = organization_result(args.accounts, args.sources, max_accounts=args.max_accounts, onboarding=not args.skip_onboarding)
        print_organization(result, out)
        if args.json:
            print(json.dumps({"organization": result}), file=out)
        out.flush()
        return 0
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
