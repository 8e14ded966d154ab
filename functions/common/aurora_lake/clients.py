"""AWS clients, created once per process and shared by every module.

They are boto3 clients from the SDK the Lambda runtime ships, created lazily so
that a handler only pays for the services it uses, from one boto3 session with
one configuration. The SDK retries a call once at most (its standard mode would
retry twice): retrying is the state machine's job, where it is visible and bounded.

A source account (an account of the lake's organization) is reached only through the access
role ``source-account.yaml`` creates there (Aurora has no resource-based policies): its clients
are built from the role's temporary credentials, kept until shortly before they expire. Only
RDS is called in a source account; the lake's bucket, key, catalog and topic are always the
lake's own clients.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from aurora_lake import naming, settings

RETRY_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 2}, user_agent_extra="aurora-lake")

# A boto3 session is not thread-safe; CreateAthenaTables' worker threads may ask for a client first.
_lock = threading.Lock()
_session: boto3.session.Session | None = None
_clients: dict[str, Any] = {}

# The services called in a source account: everything else of the lake lives in the lake account.
SOURCE_ACCOUNT_SERVICES = frozenset({"rds"})
# Assumed credentials are renewed this long before they expire, so no call starts with credentials
# that could lapse during it (and a Lambda kept warm for hours never uses expired ones).
REFRESH_BEFORE_EXPIRY_SECONDS = 300.0
# An hour: a Lambda role assuming another role is role chaining, which STS limits to one hour
# (IAM User Guide, "Roles terms and concepts", role chaining); also STS's default.
ASSUMED_ROLE_SECONDS = 3600
# RoleSessionName: 2 to 64 of [\w+=,.@-] (botocore's sts model, AssumeRole).
_ROLE_SESSION_NAME_ILLEGAL = re.compile(r"[^\w+=,.@-]", re.ASCII)


@dataclass
class _AssumedAccount:
    """One source account's temporary credentials and the clients built from them."""

    session: boto3.session.Session
    expires_at: float  # epoch seconds, real time (credentials expire in real time)
    clients: dict[str, Any] = field(default_factory=dict)


_accounts: dict[str, _AssumedAccount] = {}


def client(service: str, account: str | None = None) -> Any:
    """The process's client for ``service`` (``"rds"``, ``"s3"``, ...), created on first use.

    ``account``: a source account whose RDS is called through its access role; None is the lake's own.
    """
    if account is not None:
        return _source_account_client(service, account)
    found = _clients.get(service)
    if found is not None:
        return found
    with _lock:
        if service not in _clients:
            _clients[service] = _lake_session().client(service, config=RETRY_CONFIG)
        return _clients[service]


def _lake_session() -> boto3.session.Session:
    """The lake account's session (the function's own credentials); call with ``_lock`` held."""
    global _session
    if _session is None:
        _session = boto3.session.Session()
    return _session


def source_access_role_arn(account: str) -> str:
    """The access role the lake assumes in a source account: ``<lake>-source-access-<Region>`` (naming.py)."""
    session = _lake_session()
    region = session.region_name or ""
    partition = session.get_partition_for_region(region) if region else "aws"
    return naming.iam_role_arn(partition, account, naming.source_access_role_name(settings.lake_stack_name(), region))


def _source_account_client(service: str, account: str) -> Any:
    if service not in SOURCE_ACCOUNT_SERVICES:
        raise ValueError(f"{service} is never called in a source account: only {', '.join(sorted(SOURCE_ACCOUNT_SERVICES))} is")
    if not naming.is_account_id(account):
        raise ValueError(f"{str(account)[:40]!r} is not a 12-digit account ID")
    with _lock:
        assumed = _accounts.get(account)
        if assumed is None or time.time() >= assumed.expires_at - REFRESH_BEFORE_EXPIRY_SECONDS:
            assumed = _accounts[account] = _assume_access_role(account)
        if service not in assumed.clients:
            assumed.clients[service] = assumed.session.client(service, config=RETRY_CONFIG)
        return assumed.clients[service]


def _assume_access_role(account: str) -> _AssumedAccount:
    """AssumeRole of the account's access role; call with ``_lock`` held. Errors are STS's own (AccessDenied, ...)."""
    lake = _lake_session()
    role_arn = source_access_role_arn(account)
    sts = lake.client("sts", config=RETRY_CONFIG)
    credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=_role_session_name(), DurationSeconds=ASSUMED_ROLE_SECONDS)["Credentials"]
    session = boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=lake.region_name,
    )
    return _AssumedAccount(session=session, expires_at=credentials["Expiration"].timestamp())


def _role_session_name() -> str:
    """The function's name: CloudTrail in the source account shows which lake function called (2 to 64 characters)."""
    name = _ROLE_SESSION_NAME_ILLEGAL.sub("-", os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or "aurora-lake")
    return name[:64].ljust(2, "-")


def reset() -> None:
    """Forget every client and the session (a new emulated account, or new credentials)."""
    global _session
    with _lock:
        _clients.clear()
        _accounts.clear()
        _session = None
