"""The catalog step's Lambda package: its size as ``make build`` makes it, and its import time here.

    .venv/bin/python -m tools.catalog_package [--runs 5] [--skip-build]

1. Builds the package exactly as ``sam build`` does (the Makefile's build-CreateAthenaTablesFunction,
   arm64 wheels for Python 3.13) into a scratch folder and prints its size unzipped and zipped.
2. Links the test environment's own wheels of the same versions into a second folder, trims it
   with the same Makefile recipe, and times ``import app`` there in fresh interpreters (wall and
   CPU seconds, maximum RSS): what a cold start pays before the handler runs, on this machine's
   CPU and Python, not Lambda's.

The output is one JSON object; docs/performance.md quotes it.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from tools.function_modules import modules_for

ROOT = Path(__file__).resolve().parents[1]
HANDLER = ROOT / "functions" / "create_athena_tables" / "app.py"
# functions/create_athena_tables/requirements.txt and what its packages depend on.
DISTRIBUTIONS = ("pyarrow", "pyiceberg", "zstandard", "pyroaring", "mmh3", "strictyaml", "pyparsing", "cachetools",
                 "tenacity", "rich", "pygments", "markdown-it-py", "mdurl", "click", "fsspec", "requests",
                 "pydantic", "pydantic_core", "annotated_types", "typing_inspection", "typing_extensions",
                 "aws-lambda-powertools", "aws-xray-sdk", "wrapt")


def link_distribution(name: str, target: Path) -> None:
    """The installed files of one distribution, hard-linked (or copied) into ``target``."""
    distribution = importlib.metadata.distribution(name)
    for file in distribution.files or []:
        source = Path(str(distribution.locate_file(file)))
        if ".." in file.parts or "__pycache__" in file.parts or not source.is_file():
            continue
        destination = target / file
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, destination)
        except OSError:
            shutil.copy2(source, destination)


def local_package(target: Path, distributions: tuple[str, ...] = DISTRIBUTIONS) -> Path:
    """The handler, its library modules and the local wheels' files, trimmed as the build trims them."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(HANDLER, target / "app.py")
    for module in modules_for(HANDLER):
        (target / module).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "functions" / "common" / module, target / module)
    for name in distributions:
        link_distribution(name, target)
    trim(target)
    return target


def _make_environment() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}


def trim(folder: Path) -> None:
    done = subprocess.run(["make", "-s", "-C", str(ROOT), "trim-catalog-package", f"TRIM_DIR={folder}"],
                          capture_output=True, text=True, timeout=300, env=_make_environment())
    if done.returncode:
        raise RuntimeError(done.stderr)


def size(folder: Path) -> dict[str, float]:
    unzipped = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    archive = folder.parent / (folder.name + ".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bundle:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                bundle.write(path, path.relative_to(folder))
    return {"unzipped_mib": round(unzipped / 2**20, 1), "zipped_mib": round(archive.stat().st_size / 2**20, 1)}


def build(folder: Path) -> None:
    pip = f"{sys.executable} -m pip"
    done = subprocess.run(["make", "-s", "-C", str(ROOT), "build-CreateAthenaTablesFunction", f"ARTIFACTS_DIR={folder}", f"BUILD_PIP={pip}"],
                          capture_output=True, text=True, timeout=1800, env=_make_environment())
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])


IMPORT = "import sys, time; started = time.perf_counter(); import app; print(time.perf_counter() - started)"


def import_times(folder: Path, runs: int) -> dict[str, float]:
    """``import app`` in ``runs`` fresh interpreters run in ``folder`` (only it and the standard library on the path, boto3 from here)."""
    import boto3

    sdk = str(Path(boto3.__file__).resolve().parents[1])
    walls, cpus, rss = [], [], 0
    environment = {**os.environ, "PYTHONPATH": f"{folder}{os.pathsep}{sdk}", "POWERTOOLS_TRACE_DISABLED": "true",
                   "AWS_DEFAULT_REGION": "us-east-1", "PYTHONDONTWRITEBYTECODE": "1"}
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path[:0] = {[str(folder), sdk]!r}; {IMPORT}"],
                              capture_output=True, text=True, timeout=120, env=environment, cwd=folder)
        wall = time.perf_counter() - started
        if done.returncode:
            raise RuntimeError(done.stderr[-2000:])
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        walls.append(wall)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        rss = max(rss, after.ru_maxrss)
    return {"runs": runs, "wall_seconds_min": round(min(walls), 2), "wall_seconds_max": round(max(walls), 2),
            "cpu_seconds_min": round(min(cpus), 2), "cpu_seconds_max": round(max(cpus), 2), "max_rss_mib": round(rss / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.catalog_package", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-build", action="store_true", help="measure only the local import time")
    args = parser.parse_args(argv)
    result: dict[str, object] = {"python": sys.version.split()[0], "machine": os.uname().machine}
    with tempfile.TemporaryDirectory(prefix="catalog-package-") as scratch:
        if not args.skip_build:
            lambda_package = Path(scratch) / "lambda"
            build(lambda_package)
            result["lambda_package_arm64_py313"] = size(lambda_package)
        local = local_package(Path(scratch) / "local")
        result["local_package_trimmed"] = size(local)
        result["import_app"] = import_times(local, args.runs)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
