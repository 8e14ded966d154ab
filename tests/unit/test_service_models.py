"""The trimmed service models: what tools/service_models.py writes, complete, and in use."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import botocore.session
import pytest
from botocore import xform_name

from aurora_lake import clients
from tools import service_models

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def region(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    clients.reset()
    yield
    clients.reset()


def test_the_committed_models_are_what_the_tool_writes_from_the_installed_sdk() -> None:
    on_disk = {path.relative_to(service_models.MODELS_DIR): path.read_text(encoding="utf-8")
               for path in service_models.MODELS_DIR.glob("*/*/*.json")}
    # After adding an operation or upgrading boto3: make service-models
    assert on_disk == service_models.generated()


@pytest.mark.parametrize("service", sorted(service_models.OPERATIONS))
def test_a_client_offers_exactly_the_listed_operations_and_every_shape_resolves(service: str) -> None:
    model = clients.client(service).meta.service_model
    assert sorted(model.operation_names) == sorted(service_models.OPERATIONS[service])
    # Every shape, with the SDK's extras merged in, is whole (botocore reads them all to map an error).
    for name in model.shape_names:
        model.shape_for(name)
    for operation in model.operation_names:
        full = botocore.session.get_session().get_service_model(service).operation_model(operation)
        trimmed = model.operation_model(operation)
        for kind in ("input_shape", "output_shape"):
            assert _structure(getattr(trimmed, kind)) == _structure(getattr(full, kind)), (operation, kind)


def _structure(shape: object, depth: int = 0) -> object:
    """A shape as nested (name, type, members in order) tuples, a few levels deep."""
    if shape is None or depth > 4:
        return None
    members = getattr(shape, "members", None) or {}
    inner = [getattr(shape, attribute, None) for attribute in ("member", "key", "value")]
    return (shape.name, shape.type_name, tuple((key, _structure(value, depth + 1)) for key, value in members.items()),
            tuple(_structure(item, depth + 1) for item in inner))


def test_every_listed_operation_makes_the_same_request_as_with_the_sdk_models(tmp_path: Path) -> None:
    # Each input with every member filled in (also run with the Lambda runtime's botocore:
    # python -m tools.service_models --verify).
    assert service_models.verify() == []
    # A model that lost a member makes another request, and verify says which operation.
    shutil.copytree(service_models.MODELS_DIR, tmp_path / "models")
    s3_model = next((tmp_path / "models" / "s3").glob("*/service-2.json"))
    model = json.loads(s3_model.read_text(encoding="utf-8"))
    del model["shapes"]["ListObjectsV2Request"]["members"]["Prefix"]
    s3_model.write_text(json.dumps(model), encoding="utf-8")
    [problem] = service_models.verify(tmp_path / "models")
    assert problem.startswith("s3.ListObjectsV2: ") and "Prefix" in problem


def test_an_operation_left_out_has_no_client_method() -> None:
    assert hasattr(botocore.session.get_session().create_client("glue"), "get_table")
    assert not hasattr(clients.client("glue"), "get_table")


def test_every_operation_the_functions_call_is_listed() -> None:
    source = "\n".join(path.read_text(encoding="utf-8") for path in (ROOT / "functions").rglob("*.py"))
    services = set(re.findall(r'client\("([a-z0-9-]+)"\)', source))
    assert services == set(service_models.OPERATIONS)
    session = botocore.session.get_session()
    called = {
        (service, operation)
        for service in services
        for operation in session.get_service_model(service).operation_names
        if re.search(rf'\.{xform_name(operation)}\(|get_paginator\("{xform_name(operation)}"\)', source)
    }
    # `botocore.session.get_session()` reads like Glue's and Athena's GetSession.
    called -= {("athena", "GetSession"), ("glue", "GetSession")}
    listed = {(service, operation) for service, operations in service_models.OPERATIONS.items() for operation in operations}
    assert called == listed
