"""AWS clients, created once per process and shared by every module.

Clients are created lazily so that a handler only pays for the services it
uses, and share one botocore session and configuration. They are plain botocore
clients: boto3 adds only resources and S3 transfer helpers, which no step uses,
and importing it costs a cold start more than the rest of a handler.
The SDK's own retries are kept low: retrying is the state machine's job, where
it is visible and bounded.

Each client is built from the trimmed model in ``service_models/`` when there is
one (the operations the steps call, without documentation): parsing a full model
costs a cold start some 50 ms per service. ``tools/service_models.py`` writes
them and lists the operations; an operation left out has no client method.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
from botocore.config import Config

SERVICE_MODELS = Path(__file__).resolve().parent / "service_models"
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2}, user_agent_extra="aurora-lake")


@cache
def _session() -> botocore.session.Session:
    session = botocore.session.get_session()
    # Searched before the SDK's own data, which still supplies endpoints, paginators and retries.
    session.get_component("data_loader").search_paths.insert(0, str(SERVICE_MODELS))
    return session


@cache
def client(service: str) -> Any:
    return _session().create_client(service, config=_CONFIG)


def reset() -> None:
    """Forget every client and the session (a new emulated account, or new credentials)."""
    client.cache_clear()
    _session.cache_clear()
