"""Translate the SAM template into the CloudFormation template AWS would deploy, offline.

The SAM transform runs in CloudFormation at deploy time, so the IAM policies, roles and
state machine definition that really get deployed only exist after it. This module runs
the same transform locally (``samtranslator``) so that linting, the security tests and the
emulated account all read the deployed shape:

* local ``CodeUri``/``DefinitionUri`` paths become placeholder S3 locations (the transform
  only accepts S3 locations or inline code; packaging is ``sam build``'s job);
* managed policy names resolve through an empty map, so no AWS call is made;
* the state machine definition is put back as a ``Definition`` object (the ASL file with
  its ``${...}`` placeholders, plus ``DefinitionSubstitutions``) instead of SAM's S3
  location, so cfn-lint validates the states and tests can read them.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from samtranslator.yaml_helper import intrinsics_multi_constructor
import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
DEFAULT_REGION = "us-east-1"
PLACEHOLDER_BUCKET = "aurora-lake-local-placeholder"


class _TemplateLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader that reads CloudFormation short-form tags, without changing yaml.SafeLoader.

    libyaml's parser when PyYAML has it (about 8 times faster on template.yaml), with the same
    safe constructors; the pure-Python one otherwise.
    """


_TemplateLoader.add_multi_constructor("!", intrinsics_multi_constructor)

# Parsed templates by content: the tests, the emulated account and the tools read the same
# few templates many times in one process. Each caller gets its own copy to change. Only the
# latest few are kept (a test may write many variants of a template).
_PARSED_KEPT = 8
_parsed: OrderedDict[bytes, Any] = OrderedDict()
_parsed_lock = threading.Lock()


def _offline_policy_loader() -> Any:
    """A managed policy loader that resolves no names (the template names none by short name).

    The translator is imported here, when a template is translated: it takes a few tenths of a
    second, which the emulated account and the tools that only read templates do not pay.
    """
    from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader

    class _OfflinePolicyLoader(ManagedPolicyLoader):
        def __init__(self) -> None:  # no IAM client: nothing is looked up
            pass

        def load(self) -> dict[str, str]:
            return {}

    return _OfflinePolicyLoader()


def load_template(template_path: str | Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The SAM template as a dict, short-form tags (``!Ref``) expanded to their long form.

    The file is read every time; a text already parsed in this process is not parsed again
    (the caller still gets a copy of its own).
    """
    text = Path(template_path).read_text(encoding="utf-8")
    key = hashlib.sha256(text.encode("utf-8")).digest()
    with _parsed_lock:
        parsed = _parsed.get(key, _parsed)
        if parsed is not _parsed:
            _parsed.move_to_end(key)
    if parsed is _parsed:
        parsed = yaml.load(text, Loader=_TemplateLoader)  # noqa: S506 (safe loader)
        with _parsed_lock:
            _parsed[key] = parsed
            while len(_parsed) > _PARSED_KEPT:
                _parsed.popitem(last=False)
    return copy.deepcopy(parsed)


def state_machine_definitions(template: dict[str, Any], base_dir: Path) -> dict[str, dict[str, Any]]:
    """ASL documents of every ``AWS::Serverless::StateMachine`` with a local DefinitionUri."""
    found: dict[str, dict[str, Any]] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::StateMachine":
            continue
        uri = resource.get("Properties", {}).get("DefinitionUri")
        if isinstance(uri, str) and not uri.startswith("s3://"):
            found[logical_id] = json.loads((base_dir / uri).read_text(encoding="utf-8"))
    return found


def _with_placeholder_locations(template: dict[str, Any]) -> dict[str, Any]:
    sam = copy.deepcopy(template)
    for logical_id, resource in sam.get("Resources", {}).items():
        props = resource.get("Properties", {})
        kind = resource.get("Type")
        if kind == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            if not props["CodeUri"].startswith("s3://"):
                props["CodeUri"] = f"s3://{PLACEHOLDER_BUCKET}/{logical_id}.zip"
        elif kind == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            if not props["DefinitionUri"].startswith("s3://"):
                props["DefinitionUri"] = f"s3://{PLACEHOLDER_BUCKET}/{logical_id}.asl.json"
    globals_function = sam.get("Globals", {}).get("Function", {})
    if isinstance(globals_function.get("CodeUri"), str) and not globals_function["CodeUri"].startswith("s3://"):
        globals_function["CodeUri"] = f"s3://{PLACEHOLDER_BUCKET}/globals.zip"
    return sam


def translate_template(
    template: dict[str, Any],
    base_dir: str | Path = REPO_ROOT,
    parameter_values: dict[str, Any] | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """Translate an already loaded SAM template (see ``translate``).

    A template without a Transform (``source-account.yaml``) is deployed as written: it is
    returned as it is, without running the SAM translator on it.
    """
    if "Transform" not in template:
        return copy.deepcopy(template)
    from samtranslator.translator.transform import transform

    base = Path(base_dir)
    definitions = state_machine_definitions(template, base)
    sam = _with_placeholder_locations(template)
    previous_region = os.environ.get("AWS_DEFAULT_REGION")
    # samtranslator derives the partition of generated ARNs from the Region.
    os.environ["AWS_DEFAULT_REGION"] = region or previous_region or DEFAULT_REGION
    try:
        translated = transform(sam, dict(parameter_values or {}), _offline_policy_loader())
    finally:
        if previous_region is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous_region
    for logical_id, definition in definitions.items():
        props = translated["Resources"][logical_id]["Properties"]
        props.pop("DefinitionS3Location", None)
        props.pop("DefinitionString", None)
        props["Definition"] = definition
    return translated


def translate(
    template_path: str | Path = TEMPLATE_PATH,
    parameter_values: dict[str, Any] | None = None,
    region: str | None = None,
) -> dict[str, Any]:
    """The CloudFormation template that ``template_path`` deploys as, as a dict.

    Intrinsic functions (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::If``...) stay unresolved,
    as CloudFormation receives them. Each state machine from a local ``DefinitionUri`` carries
    its ASL as ``Properties.Definition`` with ``Properties.DefinitionSubstitutions`` beside it.
    Raises ``samtranslator.model.exceptions.InvalidDocumentException`` for an invalid template.
    """
    path = Path(template_path)
    return translate_template(load_template(path), path.parent, parameter_values, region)


if __name__ == "__main__":
    import sys

    print(json.dumps(translate(sys.argv[1] if len(sys.argv) > 1 else TEMPLATE_PATH), indent=2, default=str))
