"""Logs and notifications carry names and counts, never credentials or table data."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from tools.sam_translate import REPO_ROOT

# Shape of an AWS access key id; the secret values themselves are compared below.
_KEY_ID = re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")

# Runs in a fresh interpreter, as a Lambda cold start: Powertools reads the log level once per process.
_SCRIPT = r"""
import io, json, os, re, sys
from emulated_account import EmulatedAccount
from emulated_account.parquet import read_parquet

# Dates and times of the rows also appear as the run's own timestamps: not evidence of a leak.
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}|^\d{2}:\d{2}")
logs = io.StringIO()
with EmulatedAccount(parameters={"LogLevel": sys.argv[1]}, handler_output=logs) as account:
    result = account.run({"cluster_identifier": "demo-aurora-cluster"})
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    credentials = {k: v for k, v in os.environ.items() if k in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID")}
    s3, values = account.client("s3"), set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=account.bucket):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".parquet"):
                body = s3.get_object(Bucket=account.bucket, Key=item["Key"])["Body"].read()
                for row in read_parquet(body).table.to_pylist():
                    values |= {v for v in row.values() if isinstance(v, str) and len(v) >= 6 and not DATE.match(v)}
    notifications = json.dumps(result.notifications)
print(json.dumps({"logs": logs.getvalue(), "notifications": notifications, "values": sorted(values), "credentials": credentials}))
"""


def _run(log_level: str) -> tuple[str, str, set[str], dict[str, str]]:
    """One export end to end: handler logs, notification texts, string values of the exported rows."""
    path = os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "functions" / "common")])
    out = subprocess.run([sys.executable, "-c", _SCRIPT, log_level], capture_output=True, text=True, timeout=120,
                         cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": path}, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    return found["logs"], found["notifications"], set(found["values"]), found["credentials"]


def _lines(logs: str) -> list[dict]:
    return [json.loads(line) for line in logs.splitlines() if line.startswith("{")]


@pytest.mark.slow
def test_info_logs_and_notifications_hold_no_credentials_no_row_and_no_event() -> None:
    logs, notifications, values, credentials = _run("INFO")
    assert "demo_aurora_cluster__mydb__public__users" in logs + notifications  # the real output was captured
    assert values, "the export wrote no string values to compare with"
    for text in (logs, notifications):
        assert not _KEY_ID.search(text)
        for name, secret in credentials.items():
            assert len(secret) < 6 or secret not in text, f"the value of {name} appears"
        leaked = sorted(v for v in values if v in text)
        assert not leaked, leaked[:5]
    lines = _lines(logs)
    assert lines and not [line for line in lines if line.get("message") == "event"]
    assert not [line for line in lines if line.get("level") == "DEBUG"]


@pytest.mark.slow
def test_full_events_are_logged_only_at_debug() -> None:
    events = [line for line in _lines(_run("DEBUG")[0]) if line.get("message") == "event"]
    assert events and all(line["level"] == "DEBUG" and "event" in line for line in events)
