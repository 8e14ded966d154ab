"""AWS clients, created once per process and shared by every module.

Clients are created lazily so that a handler only pays for the services it
uses, and share one botocore session and configuration. They are plain botocore
clients: boto3 adds only resources and S3 transfer helpers, which no step uses,
and importing it costs a cold start more than the rest of a handler.
The SDK's own retries are kept low: retrying is the state machine's job, where
it is visible and bounded.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import botocore.session
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, user_agent_extra="aurora-lake")


@cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def client(service: str) -> Any:
    return _session().create_client(service, config=_CONFIG)


def reset() -> None:
    """Forget every client and the session (a new emulated account, or new credentials)."""
    client.cache_clear()
    _session.cache_clear()
