"""`make demo ARGS="--input events/organization.json"`: a fleet over the lake's own cluster and
clusters of two source accounts, ending with a query over each (as a user runs it, in a child process)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from emulated_account import data
from tools.sam_translate import REPO_ROOT


@pytest.mark.slow
def test_the_organization_demo_exports_both_source_accounts_and_the_lake_s_own_and_queries_each(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    done = subprocess.run(
        ["make", "-s", "-C", str(REPO_ROOT), "demo", "ARGS=--json --input events/organization.json"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env, check=False,
    )
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    summary = json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
    assert summary["status"] == "SUCCEEDED"
    requested = json.loads((REPO_ROOT / "events" / "organization.json").read_text())
    expected_accounts = {entry["account_id"] for entry in requested["source_accounts"]}
    assert expected_accounts == set(data.SOURCE_ACCOUNT_IDS)
    assert {task.get("account_id", data.ACCOUNT_ID) for task in summary["export_tasks"]} == expected_accounts | {data.ACCOUNT_ID}
    assert all(task["status"] == "COMPLETE" for task in summary["export_tasks"])
    # One query per exported cluster, each over a table of that cluster's account, each with rows.
    queried = summary["sample_queries"]
    clusters = len(requested["cluster_identifiers"]) + sum(len(entry["cluster_identifiers"]) for entry in requested["source_accounts"])
    assert len(queried) == clusters
    for account in expected_accounts:
        assert any(f'"{account}__' in query["sql"] for query in queried), account
    assert any('"demo_aurora_cluster__' in query["sql"] for query in queried)
    assert all(query["rows"] for query in queried)
