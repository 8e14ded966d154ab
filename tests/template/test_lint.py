"""The lint step lints for real: clean on the real template, failing on broken copies."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tools import lint_template
from tools.sam_translate import REPO_ROOT, TEMPLATE_PATH

ASL_RELATIVE = Path("statemachine/export_to_data_lake.asl.json")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A copy of the template and its state machine definitions, safe to break."""
    shutil.copy(TEMPLATE_PATH, tmp_path / "template.yaml")
    shutil.copytree(REPO_ROOT / ASL_RELATIVE.parent, tmp_path / ASL_RELATIVE.parent)
    return tmp_path


def _edit_asl(workspace: Path, change: Any) -> None:
    path = workspace / ASL_RELATIVE
    definition = json.loads(path.read_text())
    change(definition)
    path.write_text(json.dumps(definition, indent=2))


@pytest.mark.slow
def test_real_template_and_state_machine_are_clean() -> None:
    assert lint_template.lint(TEMPLATE_PATH) == []


# --- broken copies ---------------------------------------------------------------------------
# Each breakage below breaks something of its own and its finding names it (a runtime, a rule,
# a state, a substitution), so one copy holds all of them and is linted once (cfn-lint takes
# about 6 s of CPU a run on the whole template); each test then asserts its own finding.
# lint() reports every problem it finds: a breakage that hid another's finding would fail the
# other's test. Under xdist, each worker that runs one of these tests lints the copy once.
RULE_DLQ = "          DeadLetterConfig:\n            Arn: !GetAtt TriggerDeadLetterQueue.Arn\n"
SUBSTITUTION_LINE = "        NotifyFunctionArn: !GetAtt NotifyFunction.Arn\n"


def _break_runtime(text: str) -> str:
    assert "Runtime: python3.13" in text
    return text.replace("Runtime: python3.13", "Runtime: python3.99", 1)


def _drop_a_rule_dead_letter_queue(text: str) -> str:
    # The snapshot-created rule's, the DB snapshot-created rule's, the AWS Backup rule's and the
    # source accounts' snapshot-created and AWS Backup rules'.
    assert text.count(RULE_DLQ) == 5
    return text.replace(RULE_DLQ, "", 1)


def _add_an_unused_substitution(text: str) -> str:
    assert SUBSTITUTION_LINE in text
    return text.replace(SUBSTITUTION_LINE, SUBSTITUTION_LINE + "        UnusedArn: !GetAtt NotifyFunction.Arn\n")


@pytest.fixture(scope="module")
def broken_copy_problems(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """lint() of one copy of the template and its definitions holding every breakage below."""
    workspace = tmp_path_factory.mktemp("broken")
    shutil.copy(TEMPLATE_PATH, workspace / "template.yaml")
    shutil.copytree(REPO_ROOT / ASL_RELATIVE.parent, workspace / ASL_RELATIVE.parent)
    template = workspace / "template.yaml"
    template.write_text(_add_an_unused_substitution(_drop_a_rule_dead_letter_queue(_break_runtime(template.read_text()))))
    _edit_asl(workspace, lambda d: d["States"]["CheckSnapshot"].update(Type="Taks"))
    _edit_asl(workspace, lambda d: d["States"]["CreateSnapshot"].update(Next="WaitForSnapshott"))
    _edit_asl(workspace, lambda d: d["States"]["NotifySuccess"].update(Resource="${NotifyFunctionArm}"))
    return lint_template.lint(template)


@pytest.mark.slow
def test_bad_runtime_fails_the_lint(broken_copy_problems: list[str]) -> None:
    problems = broken_copy_problems

    assert any("E3030" in problem and "python3.99" in problem for problem in problems), problems


@pytest.mark.slow
def test_an_eventbridge_target_without_a_dead_letter_queue_fails_the_lint(broken_copy_problems: list[str]) -> None:
    problems = broken_copy_problems

    assert any("ES4000" in problem and "SnapshotCreatedRule" in problem for problem in problems), problems


def test_every_ignored_serverless_finding_still_applies() -> None:
    """An ignore whose resource is gone would hide the next finding of that rule elsewhere."""
    from tools.sam_translate import load_template
    # The lake's template and the source accounts' (both linted by make lint).
    resources = {**load_template(TEMPLATE_PATH)["Resources"], **load_template(TEMPLATE_PATH.parent / "source-account.yaml")["Resources"]}
    assert all(resource in resources and reason for (_, resource), reason in lint_template.SERVERLESS_IGNORED.items())


@pytest.mark.slow
def test_misspelt_state_type_fails_the_lint(broken_copy_problems: list[str]) -> None:
    problems = broken_copy_problems

    assert any("E3601" in problem and "Taks" in problem for problem in problems), problems


@pytest.mark.slow
def test_next_to_a_missing_state_fails_the_lint(broken_copy_problems: list[str]) -> None:
    problems = broken_copy_problems

    assert "state CreateSnapshot: Next 'WaitForSnapshott' names no state" in "\n".join(problems)
    # WaitForSnapshot is still reached from IsSnapshotAvailable, so only the target is wrong.
    assert not any("unreachable" in problem for problem in problems), problems


def test_invalid_json_fails_the_lint(workspace: Path) -> None:
    (workspace / ASL_RELATIVE).write_text('{"StartAt": "A", "States": {')

    problems = lint_template.lint(workspace / "template.yaml")

    assert len(problems) == 1 and "not valid JSON" in problems[0]


@pytest.mark.slow
def test_missing_and_unused_substitutions_fail_the_lint(broken_copy_problems: list[str]) -> None:
    problems = "\n".join(broken_copy_problems)

    assert "ASL placeholder ${NotifyFunctionArm} has no DefinitionSubstitutions entry" in problems
    assert "DefinitionSubstitutions entry UnusedArn is not used by the ASL" in problems


@pytest.mark.slow
def test_command_line_exits_non_zero_and_names_the_problem(workspace: Path) -> None:
    _edit_asl(workspace, lambda d: d["States"]["CheckSnapshot"].update(Type="Taks"))

    result = subprocess.run(
        [sys.executable, "-m", "tools.lint_template", str(workspace / "template.yaml")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 1
    assert "Taks" in result.stderr and "problem(s)" in result.stderr


# --- graph rules, on small definitions (no cfn-lint needed) ----------------------------

RETRY = [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}]


def _machine() -> dict[str, Any]:
    return {
        "StartAt": "Work",
        "States": {
            "Work": {"Type": "Task", "Resource": "arn", "Retry": RETRY,
                     "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}], "Next": "Done?"},
            "Done?": {"Type": "Choice", "Choices": [{"Variable": "$.done", "BooleanEquals": True, "Next": "Ok"}],
                      "Default": "Wait"},
            "Wait": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Work"},
            "Ok": {"Type": "Succeed"},
            "Failed": {"Type": "Fail"},
        },
    }


def test_a_well_formed_machine_has_no_problems() -> None:
    assert lint_template.check_state_machine(_machine()) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda m: m["States"]["Done?"].pop("Default"),
         "state Done?: Choice without Default (an unmatched value would fail the run with States.NoChoiceMatched)"),
        (lambda m: m["States"]["Work"].pop("Retry"), "state Work: Task without Retry"),
        (lambda m: m["States"]["Work"].pop("Catch"), "state Work: Task without Catch"),
        (lambda m: m["States"]["Wait"].update(Seconds=5) or m["States"]["Wait"].pop("SecondsPath"),
         "state Wait: Wait must take its seconds from the state data (SecondsPath)"),
        (lambda m: m["States"].update(Orphan={"Type": "Pass", "End": True}), "state Orphan: unreachable from StartAt 'Work'"),
        (lambda m: m["States"]["Work"]["Catch"][0].update(Next="Nowhere"), "state Work: Catch[0].Next 'Nowhere' names no state"),
        (lambda m: m["States"]["Done?"]["Choices"][0].update(Next="Nowhere"),
         "state Done?: Choices[0].Next 'Nowhere' names no state"),
        (lambda m: m["States"]["Wait"].pop("Next"), "state Wait: has neither Next nor \"End\": true"),
        (lambda m: m.update(StartAt="Missing"), "definition: StartAt 'Missing' names no state"),
    ],
)
def test_each_graph_rule_reports_its_problem(change: Any, expected: str) -> None:
    machine = copy.deepcopy(_machine())
    change(machine)
    assert expected in lint_template.check_state_machine(machine)


def test_nested_branches_are_checked() -> None:
    machine = _machine()
    machine["States"]["Ok"] = {
        "Type": "Parallel",
        "Branches": [{"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "Next": "Gone"}}}],
        "End": True,
    }
    assert "state Ok.Branches[0].Inner: Next 'Gone' names no state" in lint_template.check_state_machine(machine)
