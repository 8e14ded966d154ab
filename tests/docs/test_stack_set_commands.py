"""The stack set commands docs/organization.md gives, rendered and checked as AWS would take them.

Each `aws cloudformation ...` command of the page is parsed into the API request it sends (the
CLI's shorthand syntax for the options it uses), validated against botocore's CloudFormation model
(names, types, enums and required members of CreateStackSet, CreateStackInstances), and checked
against what auto-deployment documents: service-managed permissions, one parameter set naming
every parameter the template requires and only parameters it declares, no per-account overrides,
no account filters. The template itself is linted by tests/template/test_source_account.py.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from tools.sam_translate import REPO_ROOT, load_template

PAGE = REPO_ROOT / "docs" / "organization.md"
SOURCE = load_template(REPO_ROOT / "source-account.yaml")
# CLI option -> (API member, how its value is written): the options the page uses.
OPTIONS = {
    "--stack-set-name": ("StackSetName", "string"), "--template-body": ("TemplateBody", "file"),
    "--permission-model": ("PermissionModel", "string"), "--auto-deployment": ("AutoDeployment", "struct"),
    "--capabilities": ("Capabilities", "list"), "--tags": ("Tags", "struct-list"), "--parameters": ("Parameters", "struct-list"),
    "--deployment-targets": ("DeploymentTargets", "struct"), "--regions": ("Regions", "list"),
    "--parameter-overrides": ("ParameterOverrides", "struct-list"), "--call-as": ("CallAs", "string"),
}
OPERATIONS = {"create-stack-set": "CreateStackSet", "create-stack-instances": "CreateStackInstances", "update-stack-set": "UpdateStackSet"}


def _commands() -> list[list[str]]:
    blocks = re.findall(r"```bash\n(.*?)```", PAGE.read_text(), flags=re.DOTALL)
    commands = []
    for block in blocks:
        for command in block.replace("\\\n", " ").splitlines():
            words = command.split()
            if words[:2] == ["aws", "cloudformation"] and len(words) > 2 and words[2] in OPERATIONS:
                commands.append(shlex.split(command))
    return commands


def _shorthand(text: str) -> dict[str, Any]:
    """``Key=Value,Key=Value`` (a list value written ``Key=a,b`` only for the last key, as the page never does)."""
    result: dict[str, Any] = {}
    for part in text.split(","):
        key, separator, value = part.partition("=")
        if not separator:
            raise AssertionError(f"not shorthand: {text!r}")
        result[key] = {"true": True, "false": False}.get(value, value)
    if "OrganizationalUnitIds" in result:
        result["OrganizationalUnitIds"] = [result["OrganizationalUnitIds"]]
    return result


def _request(words: list[str]) -> tuple[str, dict[str, Any]]:
    operation = OPERATIONS[words[2]]
    request: dict[str, Any] = {}
    index = 3
    while index < len(words):
        option = words[index]
        assert option in OPTIONS, f"{words[2]}: option {option} is not one the page may use"
        member, kind = OPTIONS[option]
        values = []
        index += 1
        while index < len(words) and not words[index].startswith("--"):
            values.append(words[index])
            index += 1
        if kind == "string":
            request[member] = values[0]
        elif kind == "file":
            path = REPO_ROOT / values[0].removeprefix("file://")
            request[member] = path.read_text()
        elif kind == "list":
            request[member] = values
        elif kind == "struct":
            request[member] = _shorthand(values[0])
        else:
            request[member] = [_shorthand(value) for value in values]
    return operation, request


COMMANDS = [_request(words) for words in _commands()]


def test_the_page_gives_the_stack_set_and_its_instances() -> None:
    assert [operation for operation, _ in COMMANDS] == ["CreateStackSet", "CreateStackInstances"]


@pytest.mark.parametrize("operation, request_", COMMANDS, ids=[operation for operation, _ in COMMANDS])
def test_each_command_is_a_valid_request_of_the_cloudformation_api(operation: str, request_: dict[str, Any]) -> None:
    model = botocore.session.get_session().get_service_model("cloudformation").operation_model(operation)
    report = ParamValidator().validate(request_, model.input_shape)
    assert not report.has_errors(), report.generate_report()


def test_the_stack_set_is_service_managed_auto_deployed_with_one_parameter_set() -> None:
    [(_, create)] = [(o, r) for o, r in COMMANDS if o == "CreateStackSet"]
    assert create["PermissionModel"] == "SERVICE_MANAGED"
    assert create["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    assert create["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    assert create["TemplateBody"] == (REPO_ROOT / "source-account.yaml").read_text()
    given = {p["ParameterKey"] for p in create["Parameters"]}
    required = {name for name, spec in SOURCE["Parameters"].items() if "Default" not in spec}
    assert required <= given <= set(SOURCE["Parameters"])
    for parameter in create["Parameters"]:
        spec = SOURCE["Parameters"][parameter["ParameterKey"]]
        assert re.fullmatch(spec.get("AllowedPattern", ".*"), parameter["ParameterValue"]), parameter


def test_the_instances_target_ous_with_no_override_and_no_account_filter() -> None:
    [(_, instances)] = [(o, r) for o, r in COMMANDS if o == "CreateStackInstances"]
    assert set(instances["DeploymentTargets"]) == {"OrganizationalUnitIds"}
    assert "ParameterOverrides" not in instances
    assert all(re.fullmatch(r"ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}", ou) for ou in instances["DeploymentTargets"]["OrganizationalUnitIds"])
    stack_set_commands = " ".join(" ".join(words) for words in _commands())
    assert "AccountFilterType" not in stack_set_commands and "--parameter-overrides" not in stack_set_commands


def test_the_lake_command_names_only_parameters_the_lake_template_declares() -> None:
    lake = load_template(REPO_ROOT / "template.yaml")["Parameters"]
    deploy = next(block for block in re.findall(r"```bash\n(.*?)```", PAGE.read_text(), flags=re.DOTALL) if "sam deploy" in block)
    given = dict(word.split("=", 1) for word in shlex.split(deploy.replace("\\\n", " ")) if re.fullmatch(r"[A-Z]\w+=.*", word))
    assert {"OrganizationId", "SourceOrganizationalUnitIds"} <= set(given) <= set(lake)
    for name, value in given.items():
        assert re.fullmatch(lake[name]["AllowedPattern"], value), name


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return [value] if isinstance(value, str) else []


def test_the_delegation_policy_grants_exactly_the_organizations_reads_the_code_makes_and_the_fleet_role_has() -> None:
    import json

    from botocore import xform_name

    [content] = re.findall(r"aws organizations put-resource-policy --content '(\{.*?\})'", PAGE.read_text(), re.S)
    documented = {action for statement in json.loads(content)["Statement"] for action in statement["Action"]}
    model = botocore.session.get_session().get_service_model("organizations")
    code = (REPO_ROOT / "functions" / "common" / "aurora_lake" / "inventory.py").read_text()
    called = {f"organizations:{name}" for name in model.operation_names if re.search(rf"[\"'.]{xform_name(name)}[\"'(]", code)}
    granted = {s for s in _strings(load_template(REPO_ROOT / "template.yaml")["Resources"]) if s.startswith("organizations:")}
    assert called == {"organizations:DescribeOrganization", "organizations:ListAccounts", "organizations:ListAccountsForParent",
                      "organizations:ListOrganizationalUnitsForParent"}
    assert documented == called == granted
