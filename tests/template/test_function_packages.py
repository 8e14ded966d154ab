"""Each function's package holds the library modules its handler needs, and no others."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.function_modules import modules_for

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted((ROOT / "functions").glob("*/app.py"))
# Run inside the package: the library is the package's own, and a handler that uses AWS clients
# gets them from the SDK that the runtime provides (boto3 is not packaged).
PACKAGE_CHECK = """
import sys
import app, aurora_lake
assert aurora_lake.__file__.startswith(sys.argv[1]), aurora_lake.__file__
app.lambda_handler
# PyIceberg and pyarrow cost about a second of imports: only the catalog step loads them.
iceberg = sorted(m for m in ("pyiceberg", "pyarrow") if m in sys.modules)
assert iceberg == (["pyarrow", "pyiceberg"] if sys.argv[2] == "create_athena_tables" else []), (sys.argv[2], iceberg)
clients = sys.modules.get("aurora_lake.clients")
if clients:
    import boto3
    assert not boto3.__file__.startswith(sys.argv[1]), boto3.__file__
    assert clients.client("glue").meta.service_model.service_name == "glue"
    assert clients.client("glue") is clients.client("glue")
"""


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda path: path.parent.name)
def test_the_handler_imports_with_only_its_listed_modules(handler: Path, tmp_path: Path) -> None:
    shutil.copy(handler, tmp_path / "app.py")
    for module in modules_for(handler):
        (tmp_path / module).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "functions" / "common" / module, tmp_path / module)
    # Only the package and the installed dependencies: not the repository's own library folder.
    environment = {**os.environ, "PYTHONPATH": str(tmp_path), "POWERTOOLS_TRACE_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1"}
    completed = subprocess.run(
        [sys.executable, "-c", PACKAGE_CHECK, str(tmp_path), handler.parent.name],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60,
    )
    assert completed.returncode == 0, completed.stderr


def test_packages_leave_out_what_a_step_does_not_use() -> None:
    validate = modules_for(ROOT / "functions/validate_input/app.py")
    athena = modules_for(ROOT / "functions/create_athena_tables/app.py")
    assert "aurora_lake/input_schema.py" in validate
    assert not [module for module in validate if "/catalog/" in module or module.endswith(("snapshots.py", "exports.py"))]
    assert "aurora_lake/input_schema.py" not in athena
    assert "aurora_lake/catalog/types.py" in athena


def test_development_only_libraries_never_reach_a_function() -> None:
    # DuckDB (the demo's local query) and the emulated account stay on the developer's side.
    runtime_requirements = (ROOT / "functions" / "requirements.txt").read_text().lower()
    assert "duckdb" not in runtime_requirements and "moto" not in runtime_requirements
    for source in (ROOT / "functions").rglob("*.py"):
        text = source.read_text()
        assert "import duckdb" not in text and "emulated_account" not in text, source
    for handler in HANDLERS:
        assert not [module for module in modules_for(handler) if "duckdb" in module or "lake_query" in module]


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            pins[name.split("[", 1)[0].strip().lower()] = version.strip()
    return pins


def test_only_the_catalog_step_ships_pyiceberg_and_pyarrow_pinned_as_tested() -> None:
    own = sorted(path.parent.name for path in (ROOT / "functions").glob("*/requirements.txt"))
    assert own == ["create_athena_tables"]
    catalog = _pins(ROOT / "functions/create_athena_tables/requirements.txt")
    assert set(catalog) == {"pyiceberg", "pyarrow"}
    development = _pins(ROOT / "requirements-dev.txt")
    assert {name: development[name] for name in catalog} == catalog
    assert not {"pyiceberg", "pyarrow"} & set(_pins(ROOT / "functions/requirements.txt"))
    makefile = (ROOT / "Makefile").read_text()
    # Every function is built the same way; the catalog's adds its own requirements, then its trim.
    build = makefile.split("build-CreateAthenaTablesFunction:", 1)[1].split("\n\n", 1)[0]
    assert "$(call package_function,create_athena_tables)" in build and "$(call trim_catalog_package,$(ARTIFACTS_DIR))" in build
    assert "functions/$(1)/requirements.txt" in makefile
