"""Parquet is read and written in one place, and reading there starts none of Arrow's thread pools.

Arrow's pools outlive the read; a process that exits with their threads alive can abort
(see emulated_account/parquet.py). Counting the process's threads shows the mechanism
directly, in every run, instead of waiting for the abort that comes in some runs only.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from tools.sam_translate import REPO_ROOT

HELPER = REPO_ROOT / "emulated_account" / "parquet.py"
# The catalog's footer reader (the function's only Parquet read: footers, never data pages).
FOOTERS = REPO_ROOT / "functions" / "common" / "aurora_lake" / "catalog" / "iceberg_io.py"
# This file reads Parquet directly once, on purpose, in a child process that exits without teardown.
THIS_FILE = Path(__file__).resolve()
# Any way of reaching pyarrow's Parquet module, in code or in a script a test runs.
_PARQUET_MODULE = re.compile(r"pyarrow\.parquet|from\s+pyarrow\s+import\s+[^\n]*\bparquet\b|\bpyarrow\._parquet\b")

_THREADS = r"""
import io, json, os, sys
sys.path[:0] = [sys.argv[1]]
from emulated_account import data, export_writer
from emulated_account.parquet import read_parquet
sys.path[:0] = [sys.argv[1] + "/functions/common"]
from aurora_lake.catalog.iceberg_io import read_footer
from pyiceberg.io import InputFile

class Bytes(InputFile):
    def __init__(self, body): super().__init__("s3://b/k"); self.body = body
    def __len__(self): return len(self.body)
    def exists(self): return True
    def open(self, seekable=True): return io.BytesIO(self.body)

def threads():
    return len(os.listdir("/proc/self/task"))

body = export_writer.parquet_bytes(data.POSTGRES_TABLES[0].columns, range(5000))
counts = {"start": threads()}
contents = read_parquet(body)
assert contents.table.num_rows == 5000 and contents.metadata.num_rows == 5000 and len(contents.schema) > 0
counts["helper"] = threads()
assert read_footer(Bytes(body)).num_rows == 5000
counts["footer"] = threads()
import pyarrow.parquet as direct
direct.read_table(io.BytesIO(body))
counts["direct"] = threads()
print(json.dumps(counts), flush=True)
# Leave without running C++ static destructors: the direct read's pools are alive, and this
# process must not be the one that aborts at exit.
os._exit(0)
"""


def test_no_module_but_the_helper_uses_pyarrow_parquet() -> None:
    tracked = subprocess.run(["git", "ls-files", "*.py"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout.split()
    sources = [(REPO_ROOT / name).resolve() for name in tracked]
    offenders = [str(path.relative_to(REPO_ROOT)) for path in sources
                 if path not in (HELPER, FOOTERS, THIS_FILE) and _PARQUET_MODULE.search(path.read_text())]
    assert len(sources) > 50
    assert offenders == []


def test_the_pattern_catches_every_spelling() -> None:
    for text in ("import pyarrow.parquet as pq", "from pyarrow import parquet", "from pyarrow import csv, parquet", "pyarrow.parquet.read_table(x)"):
        assert _PARQUET_MODULE.search(text), text
    assert not _PARQUET_MODULE.search("import pyarrow as pa")


def test_reading_through_the_helper_starts_no_thread() -> None:
    done = subprocess.run([sys.executable, "-c", _THREADS, str(REPO_ROOT)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    assert counts["helper"] == counts["start"] == counts["footer"], counts
    # The same read through pyarrow's defaults starts pool threads: the count can see them.
    assert counts["direct"] > counts["helper"], counts
