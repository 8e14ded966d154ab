"""The largest state every transition of the export state machine can hold, and runs at the limits.

Two halves, each on the real definition in ``statemachine/`` (never a copy):

* **Computed.** Every part of the state has a bound: the job (``limits.JOB_MAX_BYTES``, which
  ValidateInput refuses beyond), each step's result (``limits.STEP_RESULT_MAX_BYTES``, which the
  step wrapper refuses beyond, StateBudgetExceeded), a caught error (``ERROR_OBJECT_MAX_BYTES``:
  the wrapper cuts every message), the notification's own results. Walking the definition (its
  ResultPaths, Parameters, Catches and Choices) gives, for every state, the parts its input and
  output can hold together; their bounds add up below Step Functions' 256 KiB, and what the run
  adds to the job below ``RUN_STATE_MAX_BYTES``.
* **Measured.** Runs in the emulated account at every validation limit at once (an export_only of
  200,000 bytes, an s3_prefix of 900 characters, an 80-character execution name), with RDS
  skipping thousands of tables with hostile names (a WarningMessage of megabytes), a FailureCause
  of 200,000 characters, and a failure at every step: every state of every history stays within
  its computed bound, every notification within SNS's limits, nothing is left behind, and the
  run's report holds what the state and the e-mail cut.
"""

from __future__ import annotations

import functools
import importlib.util
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aurora_lake import limits, run_report
from emulated_account import EmulatedAccount, ExportBehaviour
from emulated_account.faults import Fault

REPO = Path(__file__).resolve().parents[2]
ASL = json.loads((REPO / "statemachine" / "export_to_data_lake.asl.json").read_text())
EXECUTION_INPUT = "<execution input>"
# A value read from the execution's context ($$.Execution.Id, $$.Task.Token: at most 1,024
# characters) or built by an intrinsic function from bounded parts.
CONTEXT_VALUE_MAX_BYTES = 2048
CLUSTER = "demo-aurora-cluster"


# --- the computed bound --------------------------------------------------------------------


def _handler_step(code_dir: Path) -> str:
    spec = importlib.util.spec_from_file_location(f"limits_{code_dir.name}", code_dir / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.lambda_handler.step)


def steps_by_resource() -> dict[str, str]:
    """Each function Resource of the definition (``${XFunctionArn}``) and its handler's step name."""
    from emulated_account.template import load

    template = load(REPO / "template.yaml")
    substitutions = template["Resources"]["ExportStateMachine"]["Properties"]["DefinitionSubstitutions"]
    steps = {}
    for name, value in substitutions.items():
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            logical_id = value["Fn::GetAtt"][0] if isinstance(value["Fn::GetAtt"], list) else value["Fn::GetAtt"].split(".")[0]
            code_uri = template["Resources"][logical_id]["Properties"]["CodeUri"]
            steps["${" + name + "}"] = _handler_step(REPO / code_uri)
    return steps


def result_bound(step: str) -> int:
    """The most a step's result takes in the state."""
    if step == "ValidateInput":
        return limits.JOB_MAX_BYTES + len('{"job":}')
    if step == "Notify":
        # Its results: {"status", "message_id"}, or after a failure {"step", "error", "cause"}, the
        # cause cut to ERROR_MESSAGE_MAX_BYTES (tests/unit/test_limits.py).
        return limits.ERROR_OBJECT_MAX_BYTES
    return limits.STEP_RESULT_MAX_BYTES[step]


def size_of(parts: dict[str, int]) -> int:
    """A JSON object of these top-level keys with values of these sizes (keys, colons, commas, braces)."""
    return 2 + sum(len(json.dumps(key)) + 1 + size for key, size in parts.items()) + max(len(parts) - 1, 0)


# A single field of the job other than export_only: an identifier, an ARN, the s3_prefix (at most
# 900 characters), a number (checked on a real job at the limits below).
JOB_FIELD_MAX_BYTES = 2048
# An error's name: at most 256 characters (Step Functions API reference, SendTaskFailure "error").
ERROR_NAME_MAX_BYTES = 256 + 2


def _path_bound(path: str, parts: dict[str, int]) -> int:
    if path.startswith("$$.") or path.startswith("States."):
        return CONTEXT_VALUE_MAX_BYTES
    if path == "$":
        return size_of(parts)
    if path.endswith(".Error") or path == "$.Error":
        return ERROR_NAME_MAX_BYTES
    key, _, rest = path[2:].partition(".")
    key = key.split("[")[0]
    if key == "job" and rest and rest != "export_only":
        return JOB_FIELD_MAX_BYTES
    return parts.get(key, size_of(parts))  # a part of the input, or the whole (an error object's fields)


def parameter_bounds(parameters: dict[str, Any], parts: dict[str, int]) -> dict[str, int]:
    """Each field of a Parameters block and the most its value takes, resolved against an input of these parts."""
    return {
        key[:-2] if key.endswith(".$") else key: _path_bound(value, parts) if key.endswith(".$") else parameters_bound(value, parts)
        for key, value in parameters.items()
    }


def parameters_bound(parameters: Any, parts: dict[str, int]) -> int:
    """The size of a Parameters block (or a literal in it) once its paths are resolved."""
    if isinstance(parameters, dict):
        return size_of(parameter_bounds(parameters, parts))
    return len(json.dumps(parameters))


def with_result(parts: dict[str, int], result_path: Any, result: int, result_parts: dict[str, int] | None = None) -> dict[str, int]:
    if result_path is None:
        return dict(parts)
    if result_path == "$":
        return dict(result_parts) if result_parts is not None else {"<result>": result}
    key = result_path[2:]
    assert "." not in key, f"ResultPath {result_path} is not a top-level key"
    return {**parts, key: result}


def walk(definition: dict[str, Any], steps: dict[str, str]) -> dict[str, dict[str, Any]]:
    """For every state: each set of parts its input can hold together (one per way of reaching it),
    with each part's bound, and the largest input, output and task input they make."""
    states = definition["States"]
    Shape = frozenset
    inputs: dict[str, dict[Shape, dict[str, int]]] = {}
    outputs: dict[str, list[dict[str, int]]] = {}
    task_inputs: dict[str, int] = {}
    pending: list[str] = []

    def arrive(name: str, parts: dict[str, int]) -> None:
        variants = inputs.setdefault(name, {})
        shape = Shape(parts)
        merged = dict(variants.get(shape) or {})
        changed = shape not in variants
        for key, size in parts.items():
            if merged.get(key, -1) < size:
                merged[key], changed = size, True
        variants[shape] = merged
        if changed:
            pending.append(name)

    arrive(definition["StartAt"], {EXECUTION_INPUT: limits.STATE_LIMIT_BYTES})
    while pending:
        name = pending.pop()
        state, kind = states[name], states[name]["Type"]
        outputs[name] = []
        for parts in list(inputs[name].values()):
            task_input = size_of(parts)
            if kind == "Task":
                step = steps.get(state["Resource"])
                result = result_bound(step) if step else limits.ERROR_OBJECT_MAX_BYTES  # an SDK task (WaitForExport)
                result_parts = {"job": limits.JOB_MAX_BYTES} if step == "ValidateInput" else None
                if "Parameters" in state:
                    task_input = parameters_bound(state["Parameters"], parts)
                output = with_result(parts, state.get("ResultPath", "$"), result, result_parts)
                for catcher in state.get("Catch", []):
                    error_parts = {"Error": ERROR_NAME_MAX_BYTES, "Cause": limits.ERROR_OBJECT_MAX_BYTES}
                    arrive(catcher["Next"], with_result(parts, catcher.get("ResultPath", "$"), limits.ERROR_OBJECT_MAX_BYTES, error_parts))
            elif kind == "Pass":
                fields = parameter_bounds(state["Parameters"], parts) if "Parameters" in state else dict(parts)
                # ResultPath "$": the state is rebuilt from the Parameters, field by field.
                output = with_result(parts, state.get("ResultPath", "$"), size_of(fields), fields)
            else:
                output = dict(parts)
            outputs[name].append(output)
            if EXECUTION_INPUT not in parts:
                task_inputs[name] = max(task_inputs.get(name, 0), task_input)
            if kind == "Choice":
                for choice in state["Choices"]:
                    arrive(choice["Next"], output)
                arrive(state["Default"], output)
            elif not state.get("End") and kind not in ("Succeed", "Fail"):
                arrive(state["Next"], output)
    return {
        name: {"inputs": list(variants.values()), "outputs": outputs[name], "task_input": task_inputs.get(name, 0)}
        for name, variants in inputs.items()
    }


def largest(shapes: list[dict[str, int]]) -> int:
    return max((size_of(parts) for parts in shapes if EXECUTION_INPUT not in parts), default=0)


@pytest.fixture(scope="module")
def computed() -> dict[str, dict[str, Any]]:
    return walk(ASL, steps_by_resource())


def test_every_state_is_reached_by_the_walk(computed: dict[str, dict[str, Any]]) -> None:
    assert set(computed) == set(ASL["States"])


@pytest.mark.parametrize("state", sorted(ASL["States"]))
def test_the_largest_state_of_each_transition_fits(state: str, computed: dict[str, dict[str, Any]], record_property: Any) -> None:
    found = computed[state]
    for shapes in (found["inputs"], found["outputs"]):
        for parts in shapes:
            if EXECUTION_INPUT in parts:
                # ValidateInput's own input is the execution input, which Step Functions itself limits
                # to 256 KiB (its wrapped form past the limit is caught by name: test_bad_inputs).
                continue
            run_part = size_of({key: size for key, size in parts.items() if key != "job"})
            assert run_part <= limits.RUN_STATE_MAX_BYTES, (state, parts)
    sizes = {"input": largest(found["inputs"]), "output": largest(found["outputs"]), "task input": found["task_input"]}
    record_property("largest_state_bytes", sizes)
    assert max(sizes.values()) < limits.STATE_LIMIT_BYTES, (state, sizes)


def test_the_shares_add_up() -> None:
    assert limits.JOB_MAX_BYTES + limits.RUN_STATE_MAX_BYTES == limits.STATE_LIMIT_BYTES
    # The largest export_only RDS takes (200 KB) and the rest of the job fit the job's share.
    assert 200_000 + 4_000 < limits.JOB_MAX_BYTES


def test_the_failure_cause_of_the_fail_state_stays_within_step_functions_limit(computed: dict[str, dict[str, Any]]) -> None:
    failed = ASL["States"]["ExportWorkflowFailed"]
    assert failed["CausePath"] == "$.failure.cause"
    # A Fail state's Cause holds at most 32,768 characters (Step Functions API reference, Fail).
    assert max(parts["failure"] for parts in computed["ExportWorkflowFailed"]["inputs"]) <= 32_768


# --- runs at the limits ----------------------------------------------------------------------

HOSTILE = "é\u202e\x07;\"'`{}()\n\t=/ 😀"


@functools.cache
def _largest_export_only() -> tuple[str, ...]:
    entries = ["mydb"]  # the whole database: the few tables the demo cluster has are exported
    size = len(json.dumps(entries))
    while size < 200_000 - 40:
        entries.append(f"mydb.public.t{len(entries):07d}")
        size += len(json.dumps(entries[-1])) + 2  # ", " and the quoted entry
    entries[-1] += "x" * (200_000 - size)
    assert len(json.dumps(entries).encode()) == 200_000  # as ValidateInput measures it: RDS's 200 KB exactly
    return tuple(entries)


def largest_export_only() -> list[str]:
    """Valid export_only entries (unique, RDS's characters) filling exactly the 200,000 bytes RDS takes."""
    return list(_largest_export_only())


LIMIT_PREFIX = "exports/" + ("x_" * 450)[: 900 - len("exports/") - 1] + "/"
SKIPPED = [f"mydb.public.skipped_{index:05d}_{HOSTILE * 6}" for index in range(4000)]


def execution_name(label: str) -> str:
    return (label + "-" + "n" * 80)[:80]


def at_the_limits() -> dict[str, Any]:
    return {"cluster_identifier": CLUSTER, "export_only": largest_export_only(), "s3_prefix": LIMIT_PREFIX}


@pytest.fixture(scope="module")
def account() -> Iterator[EmulatedAccount]:
    with EmulatedAccount(handler_output=io.StringIO()) as emulated:
        yield emulated


HISTORY_FIELDS = (
    ("stateEnteredEventDetails", "input", "input"),
    ("stateExitedEventDetails", "output", "output"),
    ("lambdaFunctionScheduledEventDetails", "input", "task_input"),
    ("taskScheduledEventDetails", "parameters", "task_input"),
)


def history_sizes(result: Any) -> dict[tuple[str, str], int]:
    """The largest input, output and task input of each state in the execution's history (strict size)."""
    sizes: dict[tuple[str, str], int] = {}
    current = None
    for event in result.history:
        for details_key, field, side in HISTORY_FIELDS:
            details = event.get(details_key)
            if not details:
                continue
            if details_key == "stateEnteredEventDetails":
                current = details["name"]
            name = details.get("name") or current
            text = details.get(field)
            if isinstance(text, str) and name:
                try:
                    size = limits.encoded_size(json.loads(text))
                except ValueError:
                    size = len(text.encode())
                sizes[(name, side)] = max(sizes.get((name, side), 0), size)
    return sizes


def run_at_limits(account: EmulatedAccount, label: str, faults: tuple[str, ...] = (), behaviour: ExportBehaviour | None = None,
                  fail_on_partial: bool = False, execution_input: dict[str, Any] | None = None) -> tuple[Any, list[dict[str, Any]]]:
    account.fault_plan.faults[:] = [Fault.parse(spec) for spec in faults]
    account.rds.behaviour = behaviour or ExportBehaviour(duration_seconds=600)
    account.functions["CreateAthenaTablesFunction"].environment["FAIL_ON_PARTIAL_EXPORT"] = "true" if fail_on_partial else "false"
    before = len(account.notifications())
    try:
        result = account.run(execution_input or at_the_limits(), name=execution_name(label), timeout=300)
    finally:
        account.fault_plan.faults[:] = []
    return result, account.notifications()[before:]


def manual_snapshots(account: EmulatedAccount) -> list[str]:
    found = account.client("rds").describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    return sorted(s["DBClusterSnapshotIdentifier"] for s in found if "-lake-" in s["DBClusterSnapshotIdentifier"])


def report_of(account: EmulatedAccount, result: Any) -> dict[str, Any]:
    name = result.execution_arn.rsplit(":", 1)[-1]
    body = account.client("s3").get_object(Bucket=account.bucket, Key=run_report.key_for(name))["Body"].read()
    return json.loads(body)


def check_within_bounds(result: Any, notifications: list[dict[str, Any]], computed: dict[str, dict[str, Any]]) -> dict[tuple[str, str], int]:
    sizes = history_sizes(result)
    for (state, side), size in sizes.items():
        found = computed[state]
        if state == ASL["StartAt"] and side != "output":
            continue  # ValidateInput's input: the execution input itself (Step Functions' own limit)
        bound = {"input": largest(found["inputs"]), "output": largest(found["outputs"]), "task_input": found["task_input"]}[side]
        assert size <= bound < limits.STATE_LIMIT_BYTES, (state, side, size, bound)
    [notification] = notifications
    assert len(notification["subject"]) <= limits.SNS_SUBJECT_LIMIT
    assert len(notification["message"].encode()) < limits.SNS_MESSAGE_LIMIT_BYTES
    return sizes


# (label, faults, behaviour, fail on partial, expected (status, error), failed step, the snapshot line the e-mail must hold)
DELETED_AFTER_FAILURE = "(created by this execution): deleted after the failure"
SKIPPING = ExportBehaviour(duration_seconds=600, skipped_tables=tuple(SKIPPED))
# RDS writes its FailureCause itself (XML carries no C0 control characters): long, quoted, non-ASCII.
FAILING = ExportBehaviour(duration_seconds=600, outcome="failed", failure_cause=("KMS key check failed é\u202e;\"'`{}()=/ 😀 ") * 5000)
RUNS = [
    # RDS skips thousands of tables (a WarningMessage of megabytes), and S3 refuses the export wait's
    # token (the wait goes on without events): PARTIAL.
    ("partial", ("s3:PutObject:AccessDenied:4",), SKIPPING, False, ("SUCCEEDED", None), None, "deleted after a successful export"),
    ("export-failed", (), FAILING, False, ("FAILED", "ExportFailed"), "CheckExport", DELETED_AFTER_FAILURE),
    ("partial-refused", (), SKIPPING, True, ("FAILED", "PartialExport"), "CreateAthenaTables", DELETED_AFTER_FAILURE),
    ("snapshot-denied", ("rds:CreateDBClusterSnapshot:AccessDenied:1",), None, False, ("FAILED", "AccessDenied"), "CreateSnapshot",
     "Snapshot:     none: this execution created no snapshot"),
    ("check-denied", ("rds:DescribeDBClusterSnapshots:AccessDenied:1",), None, False, ("FAILED", "AccessDenied"), "CheckSnapshot",
     DELETED_AFTER_FAILURE),
    ("export-denied", ("rds:StartExportTask:AccessDenied:1",), None, False, ("FAILED", "AccessDenied"), "StartExport", DELETED_AFTER_FAILURE),
    ("delete-denied", ("rds:DeleteDBClusterSnapshot:AccessDenied:1",), SKIPPING, False, ("FAILED", "AccessDenied"), "CleanUpSnapshot",
     DELETED_AFTER_FAILURE),
    # The notification of the success failed: no clean-up after it, the success's clean-up stands.
    ("notify-denied", ("sns:Publish:AuthorizationError:1",), SKIPPING, False, ("FAILED", "AuthorizationError"), "NotifySuccess",
     "deleted after a successful export"),
]


@pytest.mark.parametrize("label,faults,behaviour,fail_on_partial,expected,step,snapshot_line", RUNS, ids=[run[0] for run in RUNS])
def test_a_run_at_every_limit_stays_within_its_bounds_notifies_and_leaves_nothing_behind(
    label: str, faults: tuple[str, ...], behaviour: ExportBehaviour | None, fail_on_partial: bool,
    expected: tuple[str, str | None], step: str | None, snapshot_line: str,
    account: EmulatedAccount, computed: dict[str, dict[str, Any]], record_property: Any,
) -> None:
    result, notifications = run_at_limits(account, label, faults, behaviour, fail_on_partial)
    assert (result.status, result.error) == expected, result.cause
    sizes = check_within_bounds(result, notifications, computed)
    record_property("largest_state_bytes", max(size for (state, side), size in sizes.items() if state != "ValidateInput" or side == "output"))
    record_property("largest_notification_bytes", len(notifications[0]["message"].encode()))
    message = notifications[0]["message"]
    assert manual_snapshots(account) == [], "a snapshot of the run was left behind"
    report = report_of(account, result)
    assert report["outcome"]["job"]["export_only"] == at_the_limits()["export_only"]  # the report keeps it whole
    assert report["outcome"]["notification"]["message"] == message
    job = report["outcome"]["job"]
    assert limits.encoded_size(job) <= limits.JOB_MAX_BYTES
    assert max(limits.encoded_size(value) for key, value in job.items() if key != "export_only") <= JOB_FIELD_MAX_BYTES
    # What the e-mail says of the snapshot is what happened to it (it is gone: checked above).
    assert snapshot_line in message, message
    if step is not None:
        assert f"FAILED in step {step}" in message
    for check in MORE_CHECKS.get(label, ()):
        check(account, result, notifications[0], report)


def thousands_of_skipped_tables_are_named_in_full_in_the_report_only(
    account: EmulatedAccount, result: Any, notification: dict[str, Any], report: dict[str, Any]
) -> None:
    warning = report["export_warning"]
    assert len(warning["skipped"]) == len(SKIPPED)
    assert json.loads(warning["warning_message"])["skippedTables"] == SKIPPED
    message = notification["message"]
    assert message.startswith("The export of demo-aurora-cluster finished with missing tables")
    assert f"... and {len(SKIPPED) - limits.LINES_IN_STATE} more export warnings" in message
    assert f"Run report:    s3://{account.bucket}/reports/runs/{execution_name('partial')}.json" in message
    assert "WaitForExportWithoutEvent" in result.states  # the refused token: the wait went on without events
    # CreateAthenaTables read the whole WarningMessage back from the report (the state holds it cut).
    table_report = report["outcome"]["athena"]["report_uri"].removeprefix(f"s3://{account.bucket}/")
    missing = json.loads(account.client("s3").get_object(Bucket=account.bucket, Key=table_report)["Body"].read())["missing"]
    assert sorted(entry["table"] for entry in missing if entry["reason"] == "skippedTables") == sorted(SKIPPED)


def a_failed_export_is_reported_failed_never_in_progress(
    account: EmulatedAccount, result: Any, notification: dict[str, Any], report: dict[str, Any]
) -> None:
    [task] = [line for line in notification["message"].splitlines() if line.startswith("Export task:")]
    assert "(FAILED, as RDS reported it after the failure)" in task and "IN_PROGRESS" not in task
    # The FailureCause of 200,000 characters is cut in the state and the e-mail (whole in RDS).
    assert limits.cut_text(result.cause or "", limits.ERROR_MESSAGE_MAX_BYTES) == result.cause


def access_denied_names_the_call_the_role_and_the_policy(
    account: EmulatedAccount, result: Any, notification: dict[str, Any], report: dict[str, Any]
) -> None:
    [advice] = [line for line in notification["message"].splitlines() if line.startswith("What to do:")]
    assert "The call CreateDBClusterSnapshot (rds:CreateDBClusterSnapshot) was refused to role aurora-lake-CreateSnapshotRole-" in advice
    assert "a service control policy (SCP) of your organization explicitly denies rds:CreateDBClusterSnapshot" in advice
    assert "Export task:  none was started" in notification["message"]


MORE_CHECKS = {
    "partial": (thousands_of_skipped_tables_are_named_in_full_in_the_report_only,),
    "export-failed": (a_failed_export_is_reported_failed_never_in_progress,),
    "snapshot-denied": (access_denied_names_the_call_the_role_and_the_policy,),
}


def test_inputs_past_the_limits_are_refused_before_anything_is_created(account: EmulatedAccount) -> None:
    over = at_the_limits()
    over["export_only"] = [*over["export_only"][:-1], over["export_only"][-1] + "y"]  # 200,001 bytes
    long_prefix = {**at_the_limits(), "s3_prefix": LIMIT_PREFIX[:-1] + "x/"}  # 901 characters
    calls_before = len(account.calls.calls)
    for label, execution_input, field in (("over-export-only", over, "export_only"), ("over-prefix", long_prefix, "s3_prefix")):
        result, [notification] = run_at_limits(account, label, execution_input=execution_input)
        assert (result.status, result.error) == ("FAILED", "InvalidInput"), label
        assert f"{field}: " in (result.cause or ""), result.cause
        assert "Nothing was created" in notification["message"]
        assert result.states[:2] == ["ValidateInput", "ValidateInputFailed"]
    made = {f"{c.service}:{c.operation}" for c in account.calls.calls[calls_before:]} - {"lambda:Invoke", "sns:Publish", "s3:PutObject"}
    assert made == set(), made
