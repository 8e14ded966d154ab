"""Settings the functions read from their environment (set by template.yaml)."""

from __future__ import annotations

import os


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
