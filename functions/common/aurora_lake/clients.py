"""AWS clients, created once per process and shared by every module.

Clients are created lazily so that a handler only pays for the services it
uses, and share one botocore configuration. The SDK's own retries are kept
low: retrying is the state machine's job, where it is visible and bounded.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, user_agent_extra="aurora-lake")


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


def reset() -> None:
    """Forget every client (a new emulated account, or new credentials)."""
    client.cache_clear()
