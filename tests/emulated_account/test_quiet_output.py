"""The demo and the bench print no library warnings, however many accounts a process opens.

The bench opens one emulated account after another in one process, so a warning filter that
lasts only as long as the first account shows as a warning in every later run.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tools.sam_translate import REPO_ROOT

_TWO_RUNS = r"""
import io, sys
from emulated_account import runner
for _ in range(2):
    assert runner.main(["--export-duration", "600"], stdout=io.StringIO()) == 0
print("done")
"""


@pytest.mark.slow
def test_two_demo_runs_in_one_process_print_no_warning() -> None:
    path = os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "functions" / "common")])
    # -W default shows every warning once per place, as an interpreter without filters would.
    done = subprocess.run([sys.executable, "-W", "default", "-c", _TWO_RUNS], capture_output=True, text=True, timeout=300,
                          cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": path}, check=False)
    assert done.returncode == 0 and done.stdout.strip() == "done", done.stderr[-3000:]
    assert "Warning" not in done.stderr, done.stderr[-3000:]
