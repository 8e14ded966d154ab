"""Write the trimmed AWS service models the functions' clients load.

Creating a botocore client parses the service's whole model: about 2 MB of JSON for
Glue, S3 or RDS, some 50 ms of CPU for each on a cold start, most of which describes
operations no step calls. ``aurora_lake.clients`` puts ``aurora_lake/service_models``
first on botocore's search path, so each client is built from a model that holds only
the operations in ``OPERATIONS`` and the shapes they reach, without documentation. The
SDK's own data still supplies everything else (endpoint rules, paginators, the SDK's
extras, which it merges as it does for its full models).

A client built this way has no method for an operation left out: calling one fails at
once with ``AttributeError``, and ``tests/unit/test_service_models.py`` fails first when
the code names an operation missing here. The models are generated from the installed
botocore (pinned in requirements-dev.txt), and the same test fails when they differ
from what this tool writes. After adding an operation or upgrading boto3, run:

    make service-models        # python -m tools.service_models
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import botocore.session
from botocore.exceptions import DataNotFoundError

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
}
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


def trim(model: dict[str, Any], operations: Iterable[str], extra_shapes: Iterable[str] = ()) -> dict[str, Any]:
    """The model with only ``operations``, every shape they (or ``extra_shapes``) reach, and no documentation."""
    kept_operations = {name: model["operations"][name] for name in sorted(operations)}
    pending = [
        reference["shape"]
        for operation in kept_operations.values()
        for reference in (operation.get("input"), operation.get("output"), *operation.get("errors", ()))
        if reference
    ]
    pending += [name for name in extra_shapes if name in model["shapes"]]
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


def generated() -> dict[Path, str]:
    """Each model file (relative to MODELS_DIR) and its text, from the installed botocore."""
    loader = botocore.session.get_session().get_component("data_loader")
    files = {}
    for service, operations in sorted(OPERATIONS.items()):
        version = loader.determine_latest_version(service, "service-2")
        # The model as shipped, before the SDK's extras: the runtime merges those into ours.
        model = loader.load_data(f"{service}/{version}/service-2")
        # The SDK's extras add members to some shapes; a shape they name must be whole here, or the
        # merge would leave a shape without a type (botocore checks every shape to read an error).
        try:
            extras = loader.load_data(f"{service}/{version}/service-2.sdk-extras")
        except DataNotFoundError:
            extras = {}
        extended = (extras.get("merge") or {}).get("shapes") or {}
        # Key order is kept: members are serialised in the order the model lists them.
        text = json.dumps(trim(model, operations, extended), indent=0, separators=(",", ":")) + "\n"
        files[Path(service) / version / "service-2.json"] = text
    return files


def write(directory: Path = MODELS_DIR) -> list[Path]:
    """Replace every model under ``directory`` with freshly generated ones."""
    files = generated()
    for stale in directory.glob("*/*/service-2.json"):
        if stale.relative_to(directory) not in files:
            stale.unlink()
    for relative, text in files.items():
        (directory / relative).parent.mkdir(parents=True, exist_ok=True)
        (directory / relative).write_text(text, encoding="utf-8")
    return sorted(files)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit("usage: python -m tools.service_models")
    for path in write():
        print(MODELS_DIR.relative_to(Path.cwd()) / path if MODELS_DIR.is_relative_to(Path.cwd()) else MODELS_DIR / path)
