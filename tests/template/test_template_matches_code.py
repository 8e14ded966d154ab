"""The template and the code agree: every setting a function reads is deployed with it,
and parameter constraints accept exactly what the code accepts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from aurora_lake.errors import InvalidInput
from aurora_lake.input_schema import validate_execution_input
from tools.sam_translate import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
FUNCTIONS = {name: resource for name, resource in TEMPLATE["Resources"].items() if resource["Type"] == "AWS::Serverless::Function"}
SETTING_READ = re.compile(r"settings\.(?:required|seconds|flag|optional)\(\s*\"([A-Z0-9_]+)\"")
ENV_READ = re.compile(r"env(?:\.get\(|\[)\s*\"([A-Z0-9_]+)\"")
# Settings every function shares through the template's Globals.
GLOBAL_SETTINGS = set(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])
# Library modules that read settings on a handler's behalf, by the handler's folder.
LIBRARY_READERS = {"create_athena_tables": ["catalog/tables.py"]}


def settings_read_by(code_dir: Path) -> set[str]:
    sources = [code_dir / "app.py"] + [ROOT / "functions/common/aurora_lake" / name for name in LIBRARY_READERS.get(code_dir.name, [])]
    names: set[str] = set()
    for source in sources:
        text = source.read_text()
        names |= set(SETTING_READ.findall(text)) | set(ENV_READ.findall(text))
    return names


@pytest.mark.parametrize("logical_id", sorted(FUNCTIONS))
def test_every_setting_a_function_reads_is_deployed_with_it(logical_id: str) -> None:
    properties = FUNCTIONS[logical_id]["Properties"]
    code_dir = ROOT / properties["CodeUri"]
    declared = set((properties.get("Environment") or {}).get("Variables", {})) | GLOBAL_SETTINGS
    read = settings_read_by(code_dir)
    assert read - declared == set(), f"{logical_id} reads settings the template does not set"


def test_every_function_code_folder_has_its_handler() -> None:
    for logical_id, resource in FUNCTIONS.items():
        properties = resource["Properties"]
        handler = properties.get("Handler") or TEMPLATE["Globals"]["Function"]["Handler"]
        module, _, function = handler.partition(".")
        source = ROOT / properties["CodeUri"] / f"{module}.py"
        assert source.is_file(), logical_id
        assert f"def {function}(" in source.read_text(), logical_id


def export_prefix_pattern() -> re.Pattern[str]:
    return re.compile(TEMPLATE["Parameters"]["ExportPrefix"]["AllowedPattern"])


@pytest.mark.parametrize("prefix", ["exports/", "aurora/daily/", "a=1/b_c-d.e/", "", "/abs/", "a//b/", "a:b/", "../x/", "./", "a b/", "no-slash"])
def test_export_prefix_parameter_accepts_what_validation_accepts(prefix: str) -> None:
    accepted_by_template = bool(export_prefix_pattern().fullmatch(prefix))
    try:
        # ExportPrefix is the exports area: the default every input's s3_prefix lies in.
        validate_execution_input(
            {"cluster_identifier": "demo-aurora-cluster"},
            region="us-east-1", account="123456789012", partition="aws", allowed_clusters=None, default_s3_prefix=prefix,
        )
        accepted_by_code = True
    except (InvalidInput, ValueError):
        accepted_by_code = False
    # The template may be stricter (it wants the trailing slash), never looser.
    assert accepted_by_code or not accepted_by_template, prefix


def test_export_prefix_default_is_usable_as_the_default_prefix() -> None:
    default = TEMPLATE["Parameters"]["ExportPrefix"]["Default"]
    assert export_prefix_pattern().fullmatch(default)
    job = validate_execution_input(
        {"cluster_identifier": "demo-aurora-cluster"},
        region="us-east-1", account="123456789012", partition="aws", allowed_clusters=None, default_s3_prefix=default,
    )
    assert job["s3_prefix"] == default
