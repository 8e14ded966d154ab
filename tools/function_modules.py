"""The modules of the shared ``aurora_lake`` library that one handler needs.

Each function's package holds only what its handler imports, directly or
through other library modules (imports inside functions count too, since they
run sooner or later). Read from the source, not by importing it, so that it
works with any Python that runs the build.

    python tools/function_modules.py functions/validate_input/app.py
    aurora_lake/__init__.py
    aurora_lake/clock.py
    ...
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

LIBRARY = "aurora_lake"
LIBRARY_DIR = Path(__file__).resolve().parents[1] / "functions" / "common" / LIBRARY


def _imported_library_modules(source: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"), filename=str(source))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from aurora_lake import clock` names a module, not only an attribute.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    found = set()
    for name in names:
        parts = name.split(".")
        if parts[0] == LIBRARY and len(parts) >= 2 and (LIBRARY_DIR / f"{parts[1]}.py").is_file():
            found.add(parts[1])
    return found


def modules_for(handler: Path, library_dir: Path = LIBRARY_DIR) -> list[str]:
    """Library files (relative to the package root) the handler needs."""
    needed: set[str] = set()
    pending = list(_imported_library_modules(handler))
    while pending:
        module = pending.pop()
        if module in needed:
            continue
        needed.add(module)
        pending.extend(_imported_library_modules(library_dir / f"{module}.py") - needed)
    return [f"{LIBRARY}/__init__.py", *sorted(f"{LIBRARY}/{module}.py" for module in needed)]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: function_modules.py functions/<step>/app.py")
    print("\n".join(modules_for(Path(sys.argv[1]))))
