"""Lint the SAM template and the state machine definition for real.

Current cfn-lint (and ``sam validate --lint``) no longer apply the SAM transform, so they
pass an ``AWS::Serverless::Function`` with any runtime. This linter:

1. translates the template offline (``tools.sam_translate``), with the ASL as a
   ``Definition`` object on the ``AWS::StepFunctions::StateMachine``, and runs cfn-lint on
   the result: resource properties (runtimes, ARNs, enums...) and, through rule E3601, the
   shape of every state; with cfn-lint-serverless's rules too (ES4000: an EventBridge target
   without a dead-letter queue drops events after its retries), each ignored finding below
   with its reason;
2. checks what E3601 does not: the ASL parses; every ``${X}`` in it has a
   ``DefinitionSubstitutions`` entry and every entry is used; every ``Next``, ``Default``,
   Choice and Catch target exists; every state is reachable from ``StartAt``; every Choice
   has a ``Default``; every Task declares ``Retry`` and ``Catch``; every Wait takes its
   seconds from the state data (``SecondsPath``); every state that continues says how
   (``Next`` or ``End``).

A plain CloudFormation template (no Transform, e.g. ``source-account.yaml``) goes through the
same steps: the transform leaves it as it is and it has no state machine.

Usage: ``python -m tools.lint_template [TEMPLATE ...]``; exit 1 and one line per problem when
anything is wrong in any of them, exit 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tools.sam_translate import TEMPLATE_PATH, load_template, translate_template

LINT_REGIONS = ["us-east-1"]
# cfn-lint levels that fail the lint: errors and warnings (informational findings do not).
FAILING_LEVELS = ("E", "W")
SERVERLESS_RULES = "cfn_lint_serverless.rules"
# cfn-lint and cfn-lint-serverless findings that do not apply, by rule and resource, with the reason.
SERVERLESS_IGNORED: dict[tuple[str, str], str] = {
    **{("WS1004", function): "the function logs to its own log group with a retention (LoggingConfig.LogGroup), "
                             "which the rule does not follow"
       for function in ("ValidateInputFunction", "CreateSnapshotFunction", "CheckSnapshotFunction", "StartExportFunction",
                        "CheckExportFunction", "CreateAthenaTablesFunction", "DeleteSnapshotFunction", "NotifyFunction",
                        "WakeExportWaitFunction")},
    ("ES6000", "TriggerDeadLetterQueue"): "it is the dead-letter queue itself; its depth alarm reports what lands there",
    ("ES6000", "ExportEventsDeadLetterQueue"): "it is the dead-letter queue itself (of the export events and their wake-ups)",
    ("ES6000", "ForwardedEventsDeadLetterQueue"): "it is the dead-letter queue itself (source-account.yaml: of the events "
                                                  "forwarded to the lake's bus)",
    ("ES1007", "ExportFinishedRulePermission"): "the function's asynchronous invocations that fail go to its DeadLetterQueue "
                                                "(ExportEventsDeadLetterQueue), which an EventInvokeConfig would duplicate",
    ("ES1007", "SourceExportFinishedRulePermission"): "the function's asynchronous invocations that fail go to its DeadLetterQueue "
                                                      "(ExportEventsDeadLetterQueue), which an EventInvokeConfig would duplicate",
    ("ES7000", "NotificationEmailSubscription"): "an e-mail subscription: SNS retries e-mail delivery itself, and the "
                                                 "failure notifications are also kept in the execution history",
    ("ES7000", "AlarmEmailSubscription"): "an e-mail subscription: SNS retries e-mail delivery itself, and every alarm "
                                          "stays visible in its state history",
    ("ES7000", "ForwardingAlarmEmailSubscription"): "an e-mail subscription (source-account.yaml): SNS retries e-mail delivery "
                                                    "itself, and the alarm stays visible in its state history",
}
PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
# States that end a branch by themselves, without Next or End.
TERMINAL_TYPES = frozenset({"Choice", "Succeed", "Fail"})


def run_cfn_lint(translated: dict[str, Any]) -> list[str]:
    """cfn-lint findings on a translated (plain CloudFormation) template, one line each."""
    from cfnlint.api import ManualArgs, lint

    matches = lint(json.dumps(translated), config=ManualArgs(regions=LINT_REGIONS, append_rules=[SERVERLESS_RULES]))
    problems = []
    for match in matches:
        rule_id = match.rule.id
        if not rule_id.startswith(FAILING_LEVELS):
            continue
        path = [str(part) for part in getattr(match, "path", []) or []]
        if len(path) >= 2 and path[0] == "Resources" and (rule_id, path[1]) in SERVERLESS_IGNORED:
            continue
        where = "/".join(path)
        problems.append(f"cfn-lint {rule_id}: {match.message}" + (f" (at {where})" if where else ""))
    return problems


# --- ASL graph checks ----------------------------------------------------------------


def _targets(state: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(what, target state name) for every transition a state can take."""
    if "Next" in state:
        yield "Next", state["Next"]
    if "Default" in state:
        yield "Default", state["Default"]
    for index, choice in enumerate(state.get("Choices", []) or []):
        if isinstance(choice, dict) and "Next" in choice:
            yield f"Choices[{index}].Next", choice["Next"]
    for index, catcher in enumerate(state.get("Catch", []) or []):
        if isinstance(catcher, dict) and "Next" in catcher:
            yield f"Catch[{index}].Next", catcher["Next"]


def _sub_machines(state: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Nested state machines of Parallel branches and Map iterators."""
    for index, branch in enumerate(state.get("Branches", []) or []):
        yield f"Branches[{index}]", branch
    for key in ("ItemProcessor", "Iterator"):
        if isinstance(state.get(key), dict):
            yield key, state[key]


def check_state_machine(machine: dict[str, Any], where: str = "") -> list[str]:
    """Graph and convention problems of one (possibly nested) state machine."""
    problems: list[str] = []
    states = machine.get("States")
    if not isinstance(states, dict) or not states:
        return [f"{where or 'definition'}: has no States"]
    start = machine.get("StartAt")
    if start not in states:
        problems.append(f"{where or 'definition'}: StartAt {start!r} names no state")

    for name, state in states.items():
        label = f"{where}{name}"
        if not isinstance(state, dict):
            problems.append(f"state {label}: is not an object")
            continue
        kind = state.get("Type")
        for what, target in _targets(state):
            if target not in states:
                problems.append(f"state {label}: {what} {target!r} names no state")
        if kind not in TERMINAL_TYPES and "Next" not in state and state.get("End") is not True:
            problems.append(f"state {label}: has neither Next nor \"End\": true")
        if kind == "Choice" and "Default" not in state:
            problems.append(f"state {label}: Choice without Default (an unmatched value would fail the run with States.NoChoiceMatched)")
        if kind == "Task":
            if not state.get("Retry"):
                problems.append(f"state {label}: Task without Retry")
            if not state.get("Catch"):
                problems.append(f"state {label}: Task without Catch")
        if kind == "Wait" and "SecondsPath" not in state:
            problems.append(f"state {label}: Wait must take its seconds from the state data (SecondsPath)")
        for key, sub in _sub_machines(state):
            problems.extend(check_state_machine(sub, f"{label}.{key}."))

    reachable: set[str] = set()
    pending = [start] if start in states else []
    while pending:
        name = pending.pop()
        if name in reachable:
            continue
        reachable.add(name)
        state = states[name]
        if isinstance(state, dict):
            pending.extend(target for _, target in _targets(state) if target in states)
    for name in states:
        if name not in reachable:
            problems.append(f"state {where}{name}: unreachable from StartAt {start!r}")
    return problems


def check_substitutions(asl_text: str, substitutions: dict[str, Any]) -> list[str]:
    """Every ``${X}`` placeholder has a substitution, and every substitution is used."""
    used = set(PLACEHOLDER.findall(asl_text))
    defined = set(substitutions)
    problems = [f"ASL placeholder ${{{name}}} has no DefinitionSubstitutions entry" for name in sorted(used - defined)]
    problems += [f"DefinitionSubstitutions entry {name} is not used by the ASL" for name in sorted(defined - used)]
    return problems


def check_state_machines(template: dict[str, Any], base_dir: Path) -> list[str]:
    """ASL checks of every SAM state machine whose definition is a local file."""
    problems: list[str] = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::StateMachine":
            continue
        props = resource.get("Properties", {})
        uri = props.get("DefinitionUri")
        if not isinstance(uri, str) or uri.startswith("s3://"):
            continue
        path = base_dir / uri
        prefix = f"{logical_id} ({uri})"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            problems.append(f"{prefix}: cannot read the definition: {error}")
            continue
        try:
            definition = json.loads(text)
        except json.JSONDecodeError as error:
            problems.append(f"{prefix}: not valid JSON: {error.msg} at line {error.lineno} column {error.colno}")
            continue
        substitutions = props.get("DefinitionSubstitutions") or {}
        problems += [f"{prefix}: {problem}" for problem in check_substitutions(text, substitutions)]
        problems += [f"{prefix}: {problem}" for problem in check_state_machine(definition)]
    return problems


def lint(template_path: str | Path = TEMPLATE_PATH) -> list[str]:
    """Every problem found in the template and its state machine definitions (empty: clean)."""
    path = Path(template_path)
    try:
        template = load_template(path)
    except Exception as error:  # any parse error is a lint finding, reported as text
        return [f"{path}: cannot be parsed: {error}"]
    problems = check_state_machines(template, path.parent)
    if any("not valid JSON" in problem or "cannot read" in problem for problem in problems):
        return problems  # the transform cannot run without the definition
    try:
        translated = translate_template(template, path.parent)
    except Exception as error:  # samtranslator reports invalid SAM resources this way
        return problems + [f"SAM transform failed: {error}"]
    return problems + run_cfn_lint(with_lint_partition(translated))


def with_lint_partition(translated: dict[str, Any]) -> dict[str, Any]:
    """State machine definitions with ``${Partition}`` as the linted Region's (``aws``).

    The definitions build service integration ARNs with the deployment's partition, which
    DefinitionSubstitutions fills in; cfn-lint's E3601 checks those ARNs against the ``aws``
    partition's form, which is what ``us-east-1`` deploys.
    """
    for resource in translated.get("Resources", {}).values():
        definition = resource.get("Properties", {}).get("Definition") if resource.get("Type") == "AWS::StepFunctions::StateMachine" else None
        if isinstance(definition, dict):
            text = json.dumps(definition).replace("arn:${Partition}:", "arn:aws:")
            resource["Properties"]["Definition"] = json.loads(text)
    return translated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("templates", nargs="*", default=[str(TEMPLATE_PATH)], metavar="template",
                        help="SAM or CloudFormation templates (default: template.yaml)")
    args = parser.parse_args(argv)
    failed = False
    for template in args.templates:
        problems = lint(template)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print(f"lint: {len(problems)} problem(s) in {template}", file=sys.stderr)
            failed = True
        else:
            print(f"lint: {template} and its state machine definitions are clean")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
