"""The emulated account raises only error codes that exist, and the ledger names its sources.

A code exists for an operation when the pinned botocore model declares it (the error
shape's ``error.code``, not the boto3 class name) or when FIDELITY.md lists it with evidence.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import botocore.session
import pytest

from aurora_lake import errors
from emulated_account import athena_sim, fidelity, rds_sim
from emulated_account.faults import Fault

ROOT = Path(__file__).resolve().parents[2]
ASL = json.loads((ROOT / "statemachine" / "export_to_data_lake.asl.json").read_text())


def _raised_codes(module: object, call: str) -> list[tuple[str, str, str]]:
    """(service, operation, code) of every ``call(OPERATION, CODE, ...)`` in the module's source."""
    tree = ast.parse(Path(module.__file__).read_text())  # type: ignore[attr-defined]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == call and len(node.args) >= 2:
            operation, code = (ast.literal_eval(arg) if isinstance(arg, ast.Constant) else getattr(module, arg.id) for arg in node.args[:2])  # type: ignore[union-attr]
            found.append((operation, code))
    return found


def test_every_code_the_rds_simulator_raises_exists_for_its_operation() -> None:
    raised = _raised_codes(rds_sim, "_rds_error")
    assert len(raised) >= 15  # every raise is found, not none
    assert ("StartExportTask", "ExportTaskLimitReachedFault") in raised
    problems = []
    for operation, code in raised:
        try:
            fidelity.check_code("rds", operation, code)
        except fidelity.InventedErrorCode as exc:
            problems.append(str(exc))
    assert problems == []


def test_every_code_the_athena_simulator_raises_exists_for_its_operation() -> None:
    tree = ast.parse(Path(athena_sim.__file__).read_text())
    checks = [[ast.literal_eval(arg) for arg in node.args] for node in ast.walk(tree)
              if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "check_code"]
    assert checks == [["athena", "StartQueryExecution", "TooManyRequestsException"]]
    for service, operation, code in checks:
        fidelity.check_code(service, operation, code)
    # Every error the simulator raises goes through the check: none is built from a bare literal.
    assert 'JsonRESTError("' not in Path(athena_sim.__file__).read_text()


def test_every_code_the_glue_simulator_raises_exists_for_its_operation() -> None:
    from emulated_account import glue_sim

    tree = ast.parse(Path(glue_sim.__file__).read_text())
    checks = [[ast.literal_eval(arg) if isinstance(arg, ast.Constant) else getattr(glue_sim, arg.id) for arg in node.args]
              for node in ast.walk(tree) if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "check_code"]
    assert checks == [["glue", "UpdateTable", "ConcurrentModificationException"]]
    for service, operation, code in checks:
        fidelity.check_code(service, operation, code)


def test_an_invented_code_is_refused_naming_it() -> None:
    with pytest.raises(fidelity.InventedErrorCode, match="'ExportTaskLimitReached'"):
        fidelity.check_code("rds", "StartExportTask", "ExportTaskLimitReached")
    # The boto3 class name is not the wire code either.
    with pytest.raises(fidelity.InventedErrorCode, match="'IamRoleNotFoundFault'"):
        fidelity.check_code("rds", "StartExportTask", "IamRoleNotFoundFault")
    # A code declared for another operation is not declared for this one.
    with pytest.raises(fidelity.InventedErrorCode):
        fidelity.check_code("rds", "DescribeExportTasks", "ExportTaskLimitReachedFault")
    with pytest.raises(ValueError, match="ExportTaskLimitReached'"):
        Fault.parse("rds:StartExportTask:ExportTaskLimitReached:1")


def test_injected_faults_use_wire_codes_the_model_or_the_ledger_know() -> None:
    assert Fault.parse("rds:StartExportTask:ExportTaskLimitReachedFault:3").count == 3
    assert Fault.parse("rds:StartExportTask:IamRoleNotFoundFault:1").code == "IamRoleNotFoundFault"  # class name, mapped
    assert Fault.parse("s3:GetObject:SlowDown:1")
    with pytest.raises(ValueError, match="cannot fail with 'NoSuchBucketAtAll'"):
        Fault.parse("s3:GetObject:NoSuchBucketAtAll:1")


def test_ledger_rows_name_a_source_and_a_status() -> None:
    rows = fidelity.ledger_codes()
    assert len(rows) >= 10
    assert all(row.source and row.status in fidelity.STATUSES and row.message for row in rows)
    with pytest.raises(ValueError, match="CONFIRMED or UNCONFIRMED"):
        fidelity.ledger_codes(f"{fidelity._ERROR_TABLE_HEADING}\n| rds | StartExportTask | Made-Up | m | s | PROBABLY |\n")
    with pytest.raises(ValueError, match="needs a source"):
        fidelity.ledger_codes(f"{fidelity._ERROR_TABLE_HEADING}\n| rds | StartExportTask | Made-Up | m |  | CONFIRMED |\n")


def test_ledger_codes_are_the_ones_the_model_does_not_declare() -> None:
    session = botocore.session.get_session()
    for row in fidelity.ledger_codes():
        if row.service == fidelity.ANY_OPERATION or row.operation == fidelity.ANY_OPERATION:
            continue
        assert row.operation in session.get_service_model(row.service).operation_names, row
        assert row.code not in fidelity.declared_codes(row.service, row.operation), f"{row.code} is in the model: no ledger row needed"


def test_every_behaviour_row_of_the_ledger_has_a_source_and_a_status() -> None:
    text = fidelity.LEDGER.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith(("| Behaviour", "| Service", "| ---"))]
    behaviour_rows = [r for r in rows if len(r.strip("|").split(" | ")) == 3]
    assert len(behaviour_rows) >= 40
    for row in behaviour_rows:
        _, source, status = (cell.strip() for cell in row.strip().strip("|").split(" | "))
        assert source and status.split()[0] in fidelity.STATUSES, row


def test_the_declared_code_table_matches_the_model() -> None:
    text = fidelity.LEDGER.read_text()
    section = text[text.index("## Error codes declared in the model"):text.index(fidelity._ERROR_TABLE_HEADING)]
    rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith(("| Service", "| ---"))]
    assert len(rows) >= 10
    for row in rows:
        service, operations, shape, wire = (cell.strip() for cell in row.strip().strip("|").split(" | "))
        for operation in operations.split(", "):
            assert wire in fidelity.declared_codes(service, operation), row
            model = botocore.session.get_session().get_service_model(service)
            assert (model.shape_for(shape).metadata.get("error") or {}).get("code", shape) == wire, row


def test_start_export_waits_only_on_codes_that_exist() -> None:
    """The slot-wait Retry names real codes: a name RDS never sends would never match."""
    [slot_wait] = [r for r in ASL["States"]["StartExport"]["Retry"] if "ClusterExportInProgress" in r["ErrorEquals"]]
    workflow_errors = {cls.__name__ for cls in errors.WorkflowError.__subclasses__()}
    for name in slot_wait["ErrorEquals"]:
        if name not in workflow_errors:
            fidelity.check_code("rds", "StartExportTask", name)
    assert "ExportTaskLimitReachedFault" in slot_wait["ErrorEquals"]
