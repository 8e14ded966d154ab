"""The modules of the shared ``aurora_lake`` library that one handler needs.

Each function's package holds only what its handler imports, directly or
through other library modules (imports inside functions count too, since they
run sooner or later). Found by the standard library's ``modulefinder``, which
reads the byte code without running it, so that it works with any Python that
runs the build; searching only the library's folder keeps it from walking the
standard library and the dependencies.

    python tools/function_modules.py functions/validate_input/app.py
    aurora_lake/__init__.py
    aurora_lake/clock.py
    ...
"""

from __future__ import annotations

import sys
from modulefinder import ModuleFinder
from pathlib import Path

LIBRARY = "aurora_lake"
LIBRARY_DIR = Path(__file__).resolve().parents[1] / "functions" / "common" / LIBRARY


def modules_for(handler: Path, library_dir: Path = LIBRARY_DIR) -> list[str]:
    """Library files (relative to the package root) the handler needs."""
    finder = ModuleFinder(path=[str(library_dir.parent)])
    finder.run_script(str(handler))
    files = {
        Path(module.__file__).relative_to(library_dir.parent).as_posix()
        for name, module in finder.modules.items()
        if name.split(".")[0] == LIBRARY and module.__file__
    }
    return [f"{LIBRARY}/__init__.py", *sorted(files - {f"{LIBRARY}/__init__.py"})]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: function_modules.py functions/<step>/app.py")
    print("\n".join(modules_for(Path(sys.argv[1]))))
