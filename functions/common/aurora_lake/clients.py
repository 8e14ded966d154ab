"""AWS clients, created once per process and shared by every module.

They are boto3 clients from the SDK the Lambda runtime ships, created lazily so
that a handler only pays for the services it uses, from one boto3 session with
one configuration. The SDK retries a call once at most (its standard mode would
retry twice): retrying is the state machine's job, where it is visible and bounded.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

RETRY_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 2}, user_agent_extra="aurora-lake")

# A boto3 session is not thread-safe; CreateAthenaTables' worker threads may ask for a client first.
_lock = threading.Lock()
_session: boto3.session.Session | None = None
_clients: dict[str, Any] = {}


def client(service: str) -> Any:
    """The process's client for ``service`` (``"rds"``, ``"s3"``, ...), created on first use."""
    found = _clients.get(service)
    if found is not None:
        return found
    global _session
    with _lock:
        if service not in _clients:
            if _session is None:
                _session = boto3.session.Session()
            _clients[service] = _session.client(service, config=RETRY_CONFIG)
        return _clients[service]


def reset() -> None:
    """Forget every client and the session (a new emulated account, or new credentials)."""
    global _session
    with _lock:
        _clients.clear()
        _session = None
