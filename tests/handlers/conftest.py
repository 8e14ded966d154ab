"""Handler tests: each handler module against moto, with no state machine."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from aurora_lake import clients

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
REGION = "us-east-1"
ACCOUNT = "123456789012"


def load_handler(step: str) -> ModuleType:
    """Import functions/<step>/app.py under a name of its own (every handler is app.py)."""
    spec = importlib.util.spec_from_file_location(f"handler_{step}", FUNCTIONS / step / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "AuroraLake",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        clients.reset()
        yield
    clients.reset()


@pytest.fixture
def aurora_cluster(aws: None) -> str:
    boto3.client("rds").create_db_cluster(
        DBClusterIdentifier="demo-aurora-cluster",
        Engine="aurora-postgresql",
        MasterUsername="admin_user",
        MasterUserPassword="not-a-real-password-1",
        DatabaseName="mydb",
    )
    return "demo-aurora-cluster"


class Context:
    function_name = "test"
    aws_request_id = "req-1"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:test"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@pytest.fixture
def context() -> Any:
    return Context()


def job(**overrides: Any) -> dict[str, Any]:
    base = {
        "snapshot_mode": "create",
        "cluster_identifier": "demo-aurora-cluster",
        "snapshot_arn": None,
        "snapshot_identifier": "demo-aurora-cluster-lake-abc123",
        "export_only": None,
        "s3_prefix": "exports/",
        "delete_snapshot_after_export": True,
        "execution_name": "run-1",
        "execution_arn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:sm:run-1",
        "region": REGION,
        "account": ACCOUNT,
        "partition": "aws",
        "started_epoch": 0.0,
    }
    base.update(overrides)
    return base


# The export state machine of the handler tests' stack, and ValidateInput's event for one of its executions.
MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:aurora-lake"


def validation_event(raw: Any, execution_name: str = "run-1") -> dict[str, Any]:
    return {
        "input": raw,
        "execution_arn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:aurora-lake:{execution_name}",
        "execution_name": execution_name,
        "started_at": "2026-11-27T00:00:00Z",
        "state_machine_arn": MACHINE,
    }


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Any:
    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return apply


os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
