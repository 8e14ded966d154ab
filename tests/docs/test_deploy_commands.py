"""The front door works as written: every deploy command of the docs, as a newcomer's shell and SAM CLI read it.

Each ``sam deploy`` command the README and the docs pages show is expanded by bash (with only
``AWS_REGION`` set, as a newcomer has it), its parameters are computed as SAM CLI 1.170 computes
them from the command line and ``samconfig.toml``, checked against the template's constraints, and
the template they render is linted (SAM transform, cfn-lint, state machine checks). ``aws
cloudformation`` commands must name a stack the environments deploy and outputs it has.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import botocore.session
import pytest

from tests.docs.deploy_commands import (
    Command,
    documented_commands,
    effective_parameters,
    option_values,
    parameter_problems,
    read_overrides,
    samconfig,
    shell_words,
    with_defaults,
)
from tools.sam_translate import REPO_ROOT, load_template, translate

NEWCOMER = {"AWS_REGION": "eu-west-1"}
COMMANDS = documented_commands()
# Inline mentions ("`sam deploy`", "`sam delete`") name the command; a command has options.
DEPLOYS = [c for c in COMMANDS if c.program == "sam deploy" and len(c.text.split()) > 2]
STACK_NAMES = {environment["global"]["parameters"]["stack_name"] for environment in samconfig().values() if isinstance(environment, dict)}


@pytest.fixture(scope="module")
def sam() -> dict[str, Any]:
    return load_template(REPO_ROOT / "template.yaml")


def _id(command: Command) -> str:
    return f"{command.page}: {command.text[:70]}"


def test_the_docs_show_the_deploy_commands_a_newcomer_needs() -> None:
    pages = {(c.page, option_values(shell_words(c.text, NEWCOMER), "--config-env")[0]) for c in DEPLOYS if "--config-env" in c.text}
    assert {("README.md", "ci"), ("docs/operations.md", "prod")} <= pages
    assert [c for c in COMMANDS if c.program == "aws cloudformation"], "the README's start-execution reads the stack's output"


@pytest.mark.parametrize("command", DEPLOYS, ids=_id)
def test_every_deploy_command_sends_parameters_the_template_accepts(command: Command, sam: dict[str, Any]) -> None:
    words = shell_words(command.text, NEWCOMER)
    assert words[1] == "deploy" and words[0] in ("sam", ".venv-sam/bin/sam")
    assert config_environment_exists(words), words
    problems = parameter_problems(effective_parameters(words), sam["Parameters"], guided="--guided" in words)
    assert problems == []


def config_environment_exists(words: list[str]) -> bool:
    environment = (option_values(words, "--config-env") or ["default"])[0]
    return "deploy" in samconfig().get(environment, {})


def _parameter_sets() -> list[tuple[str, dict[str, str]]]:
    """Each distinct set of parameters a documented command deploys with (with no required one missing)."""
    found: dict[tuple[tuple[str, str], ...], str] = {}
    for command in DEPLOYS:
        parameters = effective_parameters(shell_words(command.text, NEWCOMER))
        if "AllowedClusterIdentifiers" in parameters:  # --guided asks for the rest
            found.setdefault(tuple(sorted(parameters.items())), _id(command))
    return [(name, dict(items)) for items, name in found.items()]


@pytest.mark.parametrize(("command", "parameters"), _parameter_sets(), ids=[name for name, _ in _parameter_sets()])
def test_the_template_each_deploy_command_renders_passes_the_lint(command: str, parameters: dict[str, str], tmp_path: Path) -> None:
    """What CloudFormation deploys from the command: the SAM transform, cfn-lint and the state machine checks."""
    from tools import lint_template

    (tmp_path / "template.yaml").write_text(with_defaults((REPO_ROOT / "template.yaml").read_text(), parameters))
    rendered = load_template(tmp_path / "template.yaml")
    assert {name: str(rendered["Parameters"][name]["Default"]) for name in parameters} == parameters
    shutil.copytree(REPO_ROOT / "statemachine", tmp_path / "statemachine")
    assert lint_template.lint(tmp_path / "template.yaml") == []


def test_a_parameter_the_template_refuses_is_caught(sam: dict[str, Any]) -> None:
    """The check above can fail: a bad value, an unknown name, a YAML boolean, a missing cluster."""
    assert parameter_problems({"AllowedClusterIdentifiers": "Orders Prod!"}, sam["Parameters"])
    assert parameter_problems({"AllowedClusterIdentifiers": "orders", "LogRetentionInDays": "366"}, sam["Parameters"])
    assert parameter_problems({"AllowedClusterIdentifiers": "orders", "NoSuchParameter": "x"}, sam["Parameters"])
    assert parameter_problems({"NotificationEmail": "ops@example.com"}, sam["Parameters"]) == [
        "AllowedClusterIdentifiers: required (no default) and not given"]
    with pytest.raises(ValueError, match="quote it"):
        read_overrides([{"FailOnPartialExport": True}])


# --- environments keep their parameters -----------------------------------------------------


def _environment_parameters(environment: str) -> dict[str, str]:
    return effective_parameters(["sam", "deploy", "--config-env", environment])


def test_prod_keeps_its_parameters_with_the_documented_overrides_and_loses_them_without_its_file() -> None:
    prod = _environment_parameters("prod")
    assert prod == {"LogRetentionInDays": "365", "FailOnPartialExport": "true"}
    [documented] = [c for c in DEPLOYS if "--config-env prod" in c.text]
    sent = effective_parameters(shell_words(documented.text, NEWCOMER))
    assert prod.items() <= sent.items() and sent["AllowedClusterIdentifiers"] == "orders-prod"
    # What SAM CLI does with overrides that do not name the file first: the environment's are gone.
    bare = ["sam", "deploy", "--config-env", "prod", "--parameter-overrides", "AllowedClusterIdentifiers=orders-prod"]
    assert effective_parameters(bare) == {"AllowedClusterIdentifiers": "orders-prod"}
    # Later entries win, as in SAM CLI: a key given after the file replaces the file's.
    again = [*bare[:-1], "file://parameters/prod.yaml", "LogRetentionInDays=731", "AllowedClusterIdentifiers=orders-prod"]
    assert effective_parameters(again)["LogRetentionInDays"] == "731"


@pytest.mark.parametrize("command", DEPLOYS, ids=_id)
def test_a_documented_command_never_drops_its_environments_parameters(command: Command) -> None:
    words = shell_words(command.text, NEWCOMER)
    environment = (option_values(words, "--config-env") or ["default"])[0]
    assert _environment_parameters(environment).keys() <= effective_parameters(words).keys()


def test_every_environments_parameter_file_exists_and_holds_only_strings_the_template_takes(sam: dict[str, Any]) -> None:
    for name, environment in samconfig().items():
        if not isinstance(environment, dict) or "deploy" not in environment:
            continue
        parameters = _environment_parameters(name)
        problems = [p for p in parameter_problems(parameters, sam["Parameters"]) if "required" not in p]
        assert problems == [], name


# --- the Region -----------------------------------------------------------------------------


def _readme_deploy() -> Command:
    [command] = [c for c in DEPLOYS if c.page == "README.md" and c.text.startswith(".venv-sam/bin/sam deploy")]
    return command


@pytest.mark.parametrize(("environment", "region"), [
    ({"AWS_REGION": "eu-west-1"}, ["--region", "eu-west-1"]),
    ({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "us-east-2"}, ["--region", "eu-west-1"]),  # AWS_REGION first, as the AWS CLI
    ({"AWS_DEFAULT_REGION": "us-east-2"}, []),  # SAM CLI reads it itself
    ({"AWS_PROFILE": "newcomer"}, []),  # the profile's region
    ({}, []),
])
def test_the_readme_command_passes_aws_region_on_and_leaves_the_rest_to_sam_cli(environment: dict[str, str], region: list[str]) -> None:
    words = shell_words(_readme_deploy().text, environment)
    given = words[words.index("--region"):words.index("--region") + 2] if "--region" in words else []
    assert given == region


@pytest.mark.parametrize(("environment", "found"), [
    ({"AWS_REGION": "eu-west-1"}, None),  # why the command passes it on: botocore does not read it
    ({"AWS_DEFAULT_REGION": "us-east-2"}, "us-east-2"),
    ({"AWS_PROFILE": "newcomer"}, "eu-central-1"),
])
def test_botocore_finds_the_region_in_aws_default_region_or_the_profile_never_in_aws_region(
    environment: dict[str, str], found: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.write_text("[profile newcomer]\nregion = eu-central-1\n")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert botocore.session.Session().get_config_variable("region") == found


# --- aws cloudformation and sam delete ------------------------------------------------------


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.program == "aws cloudformation"], ids=_id)
def test_every_aws_cloudformation_command_names_a_deployed_stack_and_its_outputs(command: Command) -> None:
    import re
    import shlex

    words = shlex.split(command.text, comments=True)
    assert option_values(words, "--stack-name")[0] in STACK_NAMES
    outputs = translate(REPO_ROOT / "template.yaml")["Outputs"]
    queried = re.findall(r"OutputKey=='(\w+)'", command.text)
    assert queried and all(name in outputs for name in queried), queried


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.program == "sam delete" and len(c.text.split()) > 2], ids=_id)
def test_every_sam_delete_command_names_a_stack_or_an_environment(command: Command) -> None:
    import shlex

    words = shlex.split(command.text, comments=True)
    stack = option_values(words, "--stack-name")
    environment = option_values(words, "--config-env")
    assert (stack and stack[0] in STACK_NAMES) or (environment and environment[0] in samconfig())
