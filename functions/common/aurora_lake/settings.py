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


# The roles source-account.yaml creates in every source account (its defaults).
DEFAULT_SOURCE_ACCESS_ROLE_NAME = "aurora-lake-source-access"
DEFAULT_SOURCE_EXPORT_ROLE_NAME = "aurora-lake-source-export"


def source_accounts() -> dict[str, frozenset[str]]:
    """Each source account (SOURCE_ACCOUNT_IDS) with the clusters of it this lake may export.

    Clusters come from SOURCE_ACCOUNT_CLUSTERS, ``ACCOUNT_ID:cluster-identifier`` entries. Empty
    or unset: no source account, today's single-account stack. An entry that is not of that form,
    names an account that is not a source account, or a name that is not a cluster identifier is a
    deployment error: it raises, naming the entry, rather than exporting less or more than meant.
    """
    from aurora_lake.naming import CLUSTER_IDENTIFIER_MAX_LENGTH, identifier_problems, is_account_id

    accounts: dict[str, set[str]] = {}
    for account in _entries("SOURCE_ACCOUNT_IDS"):
        if not is_account_id(account):
            raise RuntimeError(f"SOURCE_ACCOUNT_IDS entry {account[:40]!r} is not a 12-digit account ID (parameter SourceAccountIds).")
        accounts.setdefault(account, set())
    for entry in _entries("SOURCE_ACCOUNT_CLUSTERS"):
        account, separator, cluster = entry.partition(":")
        if not separator or not is_account_id(account.strip()):
            raise RuntimeError(
                f"SOURCE_ACCOUNT_CLUSTERS entry {entry[:120]!r} is not ACCOUNT_ID:cluster-identifier (parameter SourceAccountClusters)."
            )
        account, cluster = account.strip(), cluster.strip()
        if account not in accounts:
            raise RuntimeError(
                f"SOURCE_ACCOUNT_CLUSTERS entry {entry[:120]!r} names account {account}, which is not in SourceAccountIds "
                f"({', '.join(sorted(accounts)) or 'none'}); add the account there or remove the entry."
            )
        problems = identifier_problems(cluster, CLUSTER_IDENTIFIER_MAX_LENGTH)
        if problems:
            raise RuntimeError(
                f"SOURCE_ACCOUNT_CLUSTERS entry {entry[:120]!r}: cluster identifier {cluster[:80]!r} " + "; ".join(problems)
                + " (parameter SourceAccountClusters; a source account's clusters are always listed by name)."
            )
        accounts[account].add(cluster.lower())
    return {account: frozenset(clusters) for account, clusters in accounts.items()}


def source_access_role_name() -> str:
    return optional("SOURCE_ACCESS_ROLE_NAME", DEFAULT_SOURCE_ACCESS_ROLE_NAME)


def source_export_role_name() -> str:
    return optional("SOURCE_EXPORT_ROLE_NAME", DEFAULT_SOURCE_EXPORT_ROLE_NAME)


def _entries(variable: str) -> list[str]:
    return [part.strip() for part in (os.environ.get(variable) or "").split(",") if part.strip()]
