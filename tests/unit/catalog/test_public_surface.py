"""The handlers and the rest of the library reach the catalog only through ``aurora_lake.catalog``."""

from __future__ import annotations

import ast
from pathlib import Path

import aurora_lake.catalog as catalog

ROOT = Path(__file__).resolve().parents[3]
LIBRARY = ROOT / "functions" / "common" / "aurora_lake"
CATALOG = LIBRARY / "catalog"


def catalog_uses(source: Path) -> list[str]:
    """What one file takes from the catalog: ``module`` or ``module:name`` for each import of it."""
    uses: list[str] = []
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            uses += [alias.name for alias in node.names if alias.name.startswith("aurora_lake.catalog")]
        elif isinstance(node, ast.ImportFrom) and node.module == "aurora_lake":
            uses += [f"aurora_lake.{alias.name}" for alias in node.names if alias.name == "catalog"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("aurora_lake.catalog"):
            uses += [f"{node.module}:{alias.name}" for alias in node.names]
    return uses


def callers() -> list[Path]:
    handlers = [path for path in (ROOT / "functions").glob("*/*.py") if path.parent.name != "common"]
    library = [path for path in LIBRARY.rglob("*.py") if CATALOG not in path.parents]
    return sorted(handlers + library)


def test_callers_outside_the_catalog_use_only_its_public_functions() -> None:
    public = {f"aurora_lake.catalog:{name}" for name in catalog.__all__} | {"aurora_lake.catalog"}
    used = {str(path.relative_to(ROOT)): catalog_uses(path) for path in callers()}
    assert {path: [use for use in uses if use not in public] for path, uses in used.items() if set(uses) - public} == {}
    assert any(used.values()), "no handler uses the catalog: the check above would prove nothing"


def test_the_public_functions_exist() -> None:
    assert sorted(catalog.__all__) == sorted(set(catalog.__all__))
    for name in catalog.__all__:
        assert getattr(catalog, name).__module__.startswith("aurora_lake.catalog."), name


def test_an_import_of_an_internal_module_is_caught(tmp_path: Path) -> None:
    caller = tmp_path / "app.py"
    caller.write_text("from aurora_lake.catalog.names import sanitize\nfrom aurora_lake import catalog, clock\n")
    assert catalog_uses(caller) == ["aurora_lake.catalog.names:sanitize", "aurora_lake.catalog"]
