"""Settings the functions read from their environment (set by template.yaml)."""

from __future__ import annotations

import os
import re


def required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"Environment variable {name} is not set; the function is deployed without its configuration.")
    return value


def seconds(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


def allowed_clusters() -> frozenset[str] | None:
    """Clusters this deployment may export; unset means no restriction, '' means none."""
    return allowed_identifiers("ALLOWED_CLUSTERS")


def allowed_db_instances() -> frozenset[str] | None:
    """DB instances this deployment may export; unset means no restriction, '' means none."""
    return allowed_identifiers("ALLOWED_DB_INSTANCES")


def allowed_identifiers(variable: str) -> frozenset[str] | None:
    """The comma-separated identifiers of ``variable``; unset or '*' means no restriction, '' means none."""
    value = os.environ.get(variable)
    if value is None:
        return None
    if value.strip() == "*":
        return None
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def optional(name: str, default: str) -> str:
    return os.environ.get(name) or default


def lake_stack_name() -> str:
    """The lake's stack name (AURORA_LAKE_STACK): the source roles' names and the opt-in tag's value."""
    return required("AURORA_LAKE_STACK")


def organization_id() -> str | None:
    """The organization whose accounts may be sources (ORGANIZATION_ID); None: a lake of this account only.

    No list of accounts or databases: which accounts IAM decides (the lake's policies trust the
    organization, the access roles exist where the stack set reached), which databases their owners'
    opt-in tag. A value that is not an organization ID is a deployment error: it raises, naming it.
    """
    value = (os.environ.get("ORGANIZATION_ID") or "").strip()
    if not value:
        return None
    if not _ORGANIZATION_ID.fullmatch(value):
        raise RuntimeError(f"ORGANIZATION_ID {value[:60]!r} is not an organization ID (o- and 10 to 32 lower-case letters or digits; parameter OrganizationId).")
    return value


_ORGANIZATION_ID = re.compile(r"o-[a-z0-9]{10,32}")
