"""The largest state of every transition of the fleet, and its largest e-mail, at an organization's size.

    PYTHONPATH=.:functions/common .venv/bin/python -m tools.fleet_sizes [--accounts 200] [--sources 1000]

Runs the fleet's data flow as Step Functions would, state by state, over the real definition
(statemachine/export_fleet.asl.json: each state's Parameters, ItemSelector, ResultSelector and
ResultPath) and the real functions' logic (the plan, each account's inventory, a source's
recorded failure, the summary and its e-mail), with every value at its limit: identifiers and
execution names at their longest, the longest ``s3_prefix``, every source of an account failing
with a cause of 32,768 control characters (each escaped to six bytes of JSON), a table name of 255
characters for every success. Prints one JSON object: the bytes of the largest state (input or
output) of each transition, of the parent execution and of one account's child execution, and of
the e-mail, against Step Functions' 262,144 bytes and SNS's 262,144 bytes.

The child execution of the largest account is measured with ``inventory.MAX_SOURCES_PER_ACCOUNT``
sources (the most one account takes), every other figure at the given organization's size.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFINITION = ROOT / "statemachine" / "export_fleet.asl.json"
STATE_LIMIT = 262_144  # Step Functions: 256 KiB of UTF-8 per state input or output
SNS_LIMIT = 262_144  # SNS: 256 KB per message, attributes and subject included
LAKE = "123456789012"
REGION = "us-east-1"
FLEET_MACHINE = f"arn:aws:states:{REGION}:{LAKE}:stateMachine:aurora-lake-ExportFleet"
EXPORT_MACHINE = f"arn:aws:states:{REGION}:{LAKE}:stateMachine:aurora-lake-ExportStateMachine"
EXECUTION_NAME = "n" * 80
LONG_CAUSE = "\x01" * 32_768  # a Fail state's Cause at its limit, every character escaped in JSON


def size(value: Any) -> int:
    """Bytes of ``value`` as compact JSON (the escaped form a state holds)."""
    return len(json.dumps(value, separators=(",", ":")).encode("utf-8"))


# --- the ASL data flow (the subset the fleet's definition uses) -------------------------------


def _path(document: Any, path: str) -> Any:
    if path == "$":
        return document
    if not re.fullmatch(r"\$(\.[A-Za-z0-9_]+)+", path):
        raise ValueError(f"unsupported path {path!r}")
    for key in path[2:].split("."):
        document = document[key]
    return document


def _value(expression: str, state: Any, context: Mapping[str, Any]) -> Any:
    merge = re.fullmatch(r"States\.JsonMerge\((\S+), (\S+), false\)", expression)
    if merge:
        return {**_value(merge.group(1), state, context), **_value(merge.group(2), state, context)}
    fmt = re.fullmatch(r"States\.Format\('([^']*)', (\S+)\)", expression)
    if fmt:
        return fmt.group(1).replace("{}", str(_value(fmt.group(2), state, context)), 1)
    if expression.startswith("$$"):
        return _path(context, expression[1:])
    return _path(state, expression)


def template(payload: Any, state: Any, context: Mapping[str, Any]) -> Any:
    """A Parameters / ItemSelector / ResultSelector payload, evaluated."""
    if isinstance(payload, dict):
        result = {}
        for key, value in payload.items():
            if key.endswith(".$"):
                result[key[:-2]] = _value(value, state, context)
            else:
                result[key] = template(value, state, context)
        return result
    if isinstance(payload, list):
        return [template(item, state, context) for item in payload]
    return payload


def with_result(state: Any, result: Any, result_path: str | None) -> Any:
    if result_path is None:
        return state
    if result_path == "$":
        return result
    keys = result_path[2:].split(".")
    updated = json.loads(json.dumps(state))
    target = updated
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = result
    return updated


class Transitions:
    """The largest state seen at each state's entry (its input) and exit (its output)."""

    def __init__(self) -> None:
        self.largest: dict[str, int] = {}

    def record(self, name: str, *states: Any) -> None:
        self.largest[name] = max([self.largest.get(name, 0), *(size(s) for s in states)])


def _context(name: str = EXECUTION_NAME, item: Any = None) -> dict[str, Any]:
    context: dict[str, Any] = {"Execution": {"Id": FLEET_MACHINE.replace(":stateMachine:", ":execution:") + ":" + name, "Name": name,
                                             "StartTime": "2026-11-02T03:00:00.000Z"},
                               "StateMachine": {"Id": FLEET_MACHINE}}
    if item is not None:
        context["Map"] = {"Item": {"Index": 199, "Value": item}}
    return context


# --- the worst values ---------------------------------------------------------------------------


def _identifier(index: int, length: int = 63) -> str:
    head = f"s{index}-"
    return head + "x" * (length - len(head))


def organization_input(accounts: int, sources: int) -> dict[str, Any]:
    """The largest fleet input naming ``sources`` clusters of the longest names over ``accounts`` source accounts."""
    per_account = -(-sources // accounts)
    return {"source_accounts": [
        {"account_id": f"{100000000000 + n:012d}", "cluster_identifiers": [_identifier(n * per_account + i) for i in range(per_account)]}
        for n in range(accounts)
    ], "use_latest_automated_snapshot": True, "delete_snapshot_after_export": False}


def _child_output(identifier: str) -> dict[str, Any]:
    """What startExecution.sync:2 returns for a source that exported: its execution's whole output."""
    return {"ExecutionArn": EXPORT_MACHINE.replace(":stateMachine:", ":execution:") + ":" + "x" * 80,
            "Output": {"job": {"source_identifier": identifier}, "notification": {"status": "PARTIAL", "message_id": "m" * 36},
                       "export": {"export_task_identifier": "e" * 60, "warning_message": "w" * 10_000},
                       "athena": {"tables_created": 200_000, "tables_skipped": 200_000, "sample_table": "t" * 255,
                                  "missing_tables": [{"table": "x" * 200, "reason": "y" * 200}] * 50}},
            "Status": "SUCCEEDED"}


def _child_failure_cause(identifier: str, execution_input: Mapping[str, Any]) -> str:
    """The Cause startExecution.sync:2 fails with: the source execution's description, its Cause at its limit."""
    return json.dumps({"ExecutionArn": EXPORT_MACHINE.replace(":stateMachine:", ":execution:") + ":" + "x" * 80,
                       "Input": json.dumps(execution_input), "Status": "FAILED", "Error": "E" * 256, "Cause": LONG_CAUSE,
                       "Name": "x" * 80, "StateMachineArn": EXPORT_MACHINE})


# --- the fleet, state by state ------------------------------------------------------------------


def measure_account(definition: Mapping[str, Any], transitions: Transitions, sources: int, *, lake_account: bool) -> tuple[dict[str, Any], int]:
    """One account's child execution with ``sources`` sources; returns its output and its largest state."""
    from aurora_lake import fleet

    states = definition["States"]["ExportEachAccount"]["ItemProcessor"]["States"]
    account = LAKE if lake_account else "999999999999"
    options: dict[str, Any] = {"use_latest_automated_snapshot": True, "delete_snapshot_after_export": False}
    if lake_account:
        options["s3_prefix"] = "exports/" + "p_1/" * 223  # 900 characters, the longest s3_prefix taken
    item = {"account_id": account, "lake_account": lake_account, "fleet_execution_name": EXECUTION_NAME, "max_concurrency": 5,
            "options": options,
            "sources": [{"kind": "instance" if lake_account else "cluster", "identifier": _identifier(i)} for i in range(sources)]}
    context = _context("c" * 36)
    state: Any = item
    transitions.record("child: input (one account's item)", state)
    listing = states["ListAccountSources"]
    transitions.record("child: ListAccountSources (Lambda input)", template(listing["Parameters"], state, context))
    state = with_result(state, fleet.list_account_sources(item, LAKE), listing["ResultPath"])
    transitions.record("child: ListAccountSources (state)", state)
    mapped = states["ExportEachSource"]
    iteration = mapped["ItemProcessor"]["States"]
    outcomes = []
    largest_iteration = 0
    for index, source in enumerate(state["sources"]):
        item_input = template(mapped["ItemSelector"], state, _context("c" * 36, source))
        task = iteration["ExportSource"]
        request = template(task["Parameters"], item_input, context)
        largest_iteration = max(largest_iteration, size(item_input), size(request))
        if index % 2:  # half succeed with the largest output an export gives, half fail with the largest cause
            result = template(task["ResultSelector"], _child_output(source["identifier"]), context)
            exported = with_result(item_input, result, task["ResultPath"])
            outcome = template(iteration["SourceExported"]["Parameters"], exported, context)
            largest_iteration = max(largest_iteration, size(exported), size(outcome))
        else:
            failure = {"Error": "States.TaskFailed", "Cause": _child_failure_cause(source["identifier"], request["Input"])}
            failed = with_result(item_input, failure, task["Catch"][0]["ResultPath"])
            record = iteration["RecordSourceFailure"]
            lambda_input = template(record["Parameters"], failed, context)
            outcome = with_result(failed, fleet.source_failure(lambda_input["source"], lambda_input["failure"]), record["ResultPath"])
            largest_iteration = max(largest_iteration, size(failed), size(lambda_input), size(outcome))
        outcomes.append(outcome)
    transitions.record("child: ExportSource (one source's iteration)", {"x": "x" * (largest_iteration - 8)})
    # Every outcome at the larger of the two forms: the account's state when all of them fail alike.
    worst = max(outcomes, key=size)
    state = with_result(state, [worst] * len(outcomes), mapped["ResultPath"])
    transitions.record("child: ExportEachSource (output, the account's outcomes)", state)
    return state, size(state)


def measure(accounts: int, sources: int) -> dict[str, Any]:
    from aurora_lake import fleet, inventory, notifications

    definition = json.loads(DEFINITION.read_text())
    states = definition["States"]
    transitions = Transitions()
    # The parent: the input, the plan, the map (items and results in S3), the summary.
    given = organization_input(accounts, sources)
    context = _context()
    transitions.record("parent: input", given)
    plan_step = states["ValidateFleetInput"]
    transitions.record("parent: ValidateFleetInput (Lambda input)", template(plan_step["Parameters"], given, context))
    planned = fleet.validate_fleet_input(given, region=REGION, account=LAKE, partition="aws", default_s3_prefix="exports/",
                                         execution_name=EXECUTION_NAME, max_concurrency=5, max_accounts=0)
    items = planned.pop("accounts")
    planned.update(accounts_key="fleet-runs/" + EXECUTION_NAME + "/accounts.json", started_epoch=1.0e9, region=REGION)
    state: Any = with_result(given, {"fleet": planned, "execution_arn": context["Execution"]["Id"], "execution_name": EXECUTION_NAME},
                             plan_step["ResultPath"])
    transitions.record("parent: ValidateFleetInput (state)", state)
    mapped = states["ExportEachAccount"]
    map_run = {"MapRunArn": FLEET_MACHINE.replace(":stateMachine:", ":mapRun:") + "/accounts:" + "u" * 36,
               "ResultWriterDetails": {"Bucket": "b" * 63, "Key": template(mapped["ResultWriter"]["Parameters"], state, context)["Prefix"]
                                       + "/" + "u" * 36 + "/manifest.json"}}
    state = with_result(state, map_run, mapped["ResultPath"])
    transitions.record("parent: ExportEachAccount (state; items and results in S3)", state)
    # One account's child: the most sources one account takes, the lake's (with the longest s3_prefix).
    measure_account(definition, transitions, inventory.MAX_SOURCES_PER_ACCOUNT, lake_account=True)
    measure_account(definition, transitions, inventory.MAX_SOURCES_PER_ACCOUNT, lake_account=False)
    # The summary over every account's outcomes, every source failing, every account also short.
    results = fleet.FleetResults(accounts=len(items))
    for n, item in enumerate(items):
        for source in item["sources"]:
            results.outcomes.append(fleet.SourceOutcome(
                account=item["account_id"], lake_account=False, kind="cluster", identifier=source["identifier"], status="FAILED",
                execution_arn=EXPORT_MACHINE.replace(":stateMachine:", ":execution:") + ":" + "x" * 80,
                error=fleet._cut("E" * 256, fleet.ERROR_LIMIT), cause=fleet._cut(LONG_CAUSE, fleet.CAUSE_LIMIT)))
        results.problems.append(fleet.AccountProblem(item["account_id"], "E" * 160, fleet._cut(LONG_CAUSE, fleet.CAUSE_LIMIT)))
    stale = [{"account": o.account, "kind": o.kind, "identifier": o.identifier, "last_success": None, "hours_since": None}
             for o in results.outcomes]
    report_uri = "s3://" + "b" * 63 + "/" + "reports/fleets/" + EXECUTION_NAME + ".json"
    message = notifications.fleet_message(results, fleet={**planned, "glue_database": "d" * 255, "freshness_hours": 168},
                                          execution_arn=context["Execution"]["Id"], execution_name=EXECUTION_NAME,
                                          report_uri=report_uri, now=2.0e9, stale_sources=stale, stale_checked=len(stale),
                                          map_error={"Error": "States.ItemReaderFailed", "Cause": LONG_CAUSE})
    summary_step = states["NotifyFleetSummary"]
    transitions.record("parent: NotifyFleetSummary (Lambda input)", template(summary_step["Parameters"], state, context))
    summary = {"message_id": "m" * 36, "report_key": report_uri.split("/", 3)[3], "stale_sources": len(stale),
               **{key: message[key] for key in ("status", "failed", "error", "cause")}}
    state = with_result(state, summary, summary_step["ResultPath"])
    transitions.record("parent: NotifyFleetSummary (state)", state)
    email = len(message["message"].encode("utf-8")) + len(message["subject"].encode("utf-8")) + size(message["attributes"])
    return {
        "accounts": accounts,
        "sources": sources,
        "sources_per_account_measured": inventory.MAX_SOURCES_PER_ACCOUNT,
        "state_limit": STATE_LIMIT,
        "largest_state_bytes": transitions.largest,
        "email_bytes": email,
        "email_limit": SNS_LIMIT,
        "email_lines": message["message"].count("\n") + 1,
        "fail_cause_bytes": len(summary["cause"].encode("utf-8")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--sources", type=int, default=1000)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.accounts, args.sources), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
