"""Write the trimmed AWS service models the functions' clients load.

Creating a botocore client parses the service's whole model: about 2 MB of JSON for
Glue, S3 or RDS, some 50 ms of CPU for each on a cold start, most of which describes
operations no step calls. ``aurora_lake.clients`` puts ``aurora_lake/service_models``
first on botocore's search path, so each client is built from a model that holds only
the operations in ``OPERATIONS`` and the shapes they reach, without documentation, and
with the SDK's extras already merged in (an empty extras file hides the runtime's own,
written for its full model). The SDK's data still supplies everything else (endpoint
rules, paginators, retries).

A client built this way has no method for an operation left out: calling one fails at
once with ``AttributeError``, and ``tests/unit/test_service_models.py`` fails first when
the code names an operation missing here. The models are generated from the installed
botocore (pinned in requirements-dev.txt), and the same test fails when they differ
from what this tool writes. After adding an operation or upgrading boto3, run:

    make service-models        # python -m tools.service_models

``python -m tools.service_models --verify`` checks, with whichever botocore is
installed, that every listed operation makes the same request (endpoint, headers, body)
through the trimmed model as through the SDK's own (botocore is its only dependency).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import botocore
import botocore.session
from botocore import xform_name
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.model import Shape

MODELS_DIR = Path(__file__).resolve().parents[1] / "functions" / "common" / "aurora_lake" / "service_models"

# The API operations the functions call, by botocore service name.
OPERATIONS: dict[str, tuple[str, ...]] = {
    "athena": ("BatchGetQueryExecution", "StartQueryExecution"),
    "glue": ("BatchDeleteTable", "CreateTable", "GetTables", "UpdateTable"),
    "rds": (
        "CreateDBClusterSnapshot",
        "DeleteDBClusterSnapshot",
        "DescribeDBClusterSnapshots",
        "DescribeExportTasks",
        "StartExportTask",
    ),
    "s3": ("DeleteObject", "GetObject", "ListObjectsV2", "PutObject"),
    "sns": ("Publish",),
    "stepfunctions": ("SendTaskSuccess",),
}
NO_EXTRAS = json.dumps({"version": 1.0, "merge": {}}) + "\n"
# Keys of an operation or a shape that only document it.
DOCUMENTATION_KEYS = frozenset({"documentation", "documentationUrl"})


def _without_documentation(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_documentation(item) for key, item in value.items() if key not in DOCUMENTATION_KEYS}
    if isinstance(value, list):
        return [_without_documentation(item) for item in value]
    return value


def _referenced_shapes(shape: dict[str, Any]) -> Iterable[str]:
    for key in ("member", "key", "value"):
        if key in shape:
            yield shape[key]["shape"]
    for member in (shape.get("members") or {}).values():
        yield member["shape"]


def trim(model: dict[str, Any], operations: Iterable[str]) -> dict[str, Any]:
    """The model with only ``operations``, every shape they reach, and no documentation."""
    kept_operations = {name: model["operations"][name] for name in sorted(operations)}
    pending = [
        reference["shape"]
        for operation in kept_operations.values()
        for reference in (operation.get("input"), operation.get("output"), *operation.get("errors", ()))
        if reference
    ]
    shapes: dict[str, Any] = {}
    while pending:
        name = pending.pop()
        if name not in shapes:
            shapes[name] = model["shapes"][name]
            pending.extend(_referenced_shapes(shapes[name]))
    # Only operations and shapes lose their documentation: botocore reads it elsewhere
    # (clientContextParams).
    trimmed = {key: value for key, value in model.items() if key not in ("operations", "shapes", "documentation")}
    trimmed["operations"] = _without_documentation(kept_operations)
    trimmed["shapes"] = _without_documentation(dict(sorted(shapes.items())))
    return trimmed


def _session(directory: Path | None = None) -> botocore.session.Session:
    """A fresh session; with ``directory``, one that finds the models there first."""
    session = botocore.session.Session()
    if directory is not None:
        session.get_component("data_loader").search_paths.insert(0, str(directory))
    return session


def generated() -> dict[Path, str]:
    """Each model file (relative to MODELS_DIR) and its text, from the installed botocore."""
    loader = _session().get_component("data_loader")
    files = {}
    for service, operations in sorted(OPERATIONS.items()):
        version = loader.determine_latest_version(service, "service-2")
        # The SDK's model with its extras merged in, as its own clients see it.
        model = loader.load_service_model(service, "service-2", version)
        # Key order is kept: members are serialised in the order the model lists them.
        text = json.dumps(trim(model, operations), indent=0, separators=(",", ":")) + "\n"
        files[Path(service) / version / "service-2.json"] = text
        # The extras are in already. This empty file hides the runtime SDK's own extras, which
        # are written for its own full model: merged into this one they could add members of
        # another release, or leave a shape this model does not hold without a type.
        files[Path(service) / version / "service-2.sdk-extras.json"] = NO_EXTRAS
    return files


def _sample(shape: Shape, name: str = "value", seen: tuple[str, ...] = ()) -> Any:
    """A value for ``shape`` with every member filled in (recursive shapes once)."""
    kind = shape.type_name
    if kind == "structure":
        path = (*seen, shape.name)
        return {member: _sample(inner, member, path) for member, inner in shape.members.items() if inner.name not in path}
    if kind == "list":
        return [_sample(shape.member, name, (*seen, shape.name))]
    if kind == "map":
        return {"key": _sample(shape.value, name, (*seen, shape.name))}
    samples = {"boolean": True, "integer": 7, "long": 7, "float": 1.5, "double": 1.5, "blob": b"blob",
               "timestamp": datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)}
    if kind == "string":
        return shape.enum[0] if shape.enum else name
    return samples[kind]


def _sent_request(client: Any, operation: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """The request the client would send for ``operation``: endpoint, headers and body."""
    captured: dict[str, Any] = {}

    def capture(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        body = params["body"]
        body = body.read() if hasattr(body, "read") else body  # a streamed blob
        captured.update(url=params["url"], method=params["method"], headers=dict(params["headers"]), body=body)
        return AWSResponse(params["url"], 200, {}, None), {}  # nothing is sent

    event = f"before-call.{client.meta.service_model.service_id.hyphenize()}"
    client.meta.events.register_first(event, capture)
    try:
        getattr(client, xform_name(operation))(**parameters)
    except Exception as error:  # noqa: BLE001 - a model that cannot make the request is the finding
        captured["error"] = repr(error)
    finally:
        client.meta.events.unregister(event, capture)
    return captured


def verify(directory: Path = MODELS_DIR) -> list[str]:
    """Problems found calling every listed operation through the trimmed and the SDK's models.

    Each operation, with every member of its input filled in, must make the same request
    (endpoint, headers, body) through both. Nothing is sent. It runs with whichever botocore
    is installed, such as the Lambda runtime's.
    """
    settings = {"region_name": "us-east-1", "aws_access_key_id": "verify", "aws_secret_access_key": "verify",
                "config": Config(parameter_validation=False, retries={"max_attempts": 0})}
    problems = []
    for service, operations in sorted(OPERATIONS.items()):
        expected_client = _session().create_client(service, **settings)
        actual_client = _session(directory).create_client(service, **settings)
        model = actual_client.meta.service_model
        if sorted(model.operation_names) != sorted(operations):
            problems.append(f"{service}: the model has {model.operation_names}, not {sorted(operations)}")
            continue
        for name in model.shape_names:  # botocore reads every shape to map an error code
            model.shape_for(name)
        for operation in operations:
            input_shape = expected_client.meta.service_model.operation_model(operation).input_shape
            parameters = _sample(input_shape) if input_shape else {}
            expected, actual = (_sent_request(client, operation, parameters) for client in (expected_client, actual_client))
            if not expected.get("url"):
                problems.append(f"{service}.{operation}: no request was made")
            elif expected != actual:
                problems.append(f"{service}.{operation}: {actual} instead of {expected}")
    return problems


def write(directory: Path = MODELS_DIR) -> list[Path]:
    """Replace every model under ``directory`` with freshly generated ones."""
    files = generated()
    for stale in directory.glob("*/*/*.json"):
        if stale.relative_to(directory) not in files:
            stale.unlink()
    for relative, text in files.items():
        (directory / relative).parent.mkdir(parents=True, exist_ok=True)
        (directory / relative).write_text(text, encoding="utf-8")
    return sorted(files)


if __name__ == "__main__":
    if sys.argv[1:] == ["--verify"]:
        found = verify()
        print("\n".join(found) or f"botocore {botocore.__version__}: every listed operation makes the same request as with the SDK's models")
        sys.exit(1 if found else 0)
    if len(sys.argv) > 1:
        sys.exit("usage: python -m tools.service_models [--verify]")
    for path in write():
        print(MODELS_DIR.relative_to(Path.cwd()) / path if MODELS_DIR.is_relative_to(Path.cwd()) else MODELS_DIR / path)
