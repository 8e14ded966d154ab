"""`make demo` is an ordinary recipe: its exit status follows the execution under any make flags.

Each case runs make in a child process, as a user or a script would. The failing runs use an
input that Step Functions refuses at once, so they cost seconds; the passing ones run a whole
export.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tools.sam_translate import REPO_ROOT

FLAGS = [[], ["-s"], ["--no-print-directory"], ["-j2"]]


def _make(flags: list[str], args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # MAKEFLAGS of an outer make (make test) would otherwise pass -j and the jobserver on.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    return subprocess.run(
        ["make", "-C", str(REPO_ROOT), *flags, "demo", f"ARGS={args}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env, check=False,
    )


def _summary(stdout: str) -> dict:
    # make -C may print "Leaving directory" after the runner's last line.
    return json.loads([line for line in stdout.splitlines() if line.startswith("{")][-1])


@pytest.mark.slow
@pytest.mark.parametrize("flags", FLAGS, ids=lambda f: " ".join(f) or "plain")
def test_a_failed_execution_fails_make_under_every_flag(flags: list[str], tmp_path: Path) -> None:
    refused = tmp_path / "input.json"
    refused.write_text('"demo-aurora-cluster"')
    done = _make(flags, f"--json --input {refused}", tmp_path)
    assert done.returncode != 0, done.stdout[-2000:]
    assert _summary(done.stdout)["error"] == "InvalidInput"


# A succeeded execution under -s is test_organization_demo's: the same `make -s -C ROOT demo
# ARGS=--json ...`, asserting exit 0 and SUCCEEDED (over the organization's fleet). Each case
# here is a child process with an emulated account of its own (4 to 5 s of CPU).
@pytest.mark.slow
@pytest.mark.parametrize("flags", [["-j2", "--no-print-directory"]], ids=lambda f: " ".join(f))
def test_a_succeeded_execution_exits_0(flags: list[str], tmp_path: Path) -> None:
    done = _make(flags, "--json", tmp_path)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-2000:])
    assert _summary(done.stdout)["status"] == "SUCCEEDED"


def test_make_n_prints_the_command_and_runs_nothing(tmp_path: Path) -> None:
    # Run for real, this input would be a usage error (exit 2) and print the runner's message.
    done = _make(["-n"], "--input /nonexistent/input.json", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "emulated_account.runner --input /nonexistent/input.json" in done.stdout
    assert "error:" not in done.stdout + done.stderr
