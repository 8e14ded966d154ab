"""A fleet run: one export execution per cluster or DB instance, and one summary of them all.

Input (a JSON object; every other key is refused)::

    cluster_identifiers           array    up to MAX_CLUSTERS Aurora cluster identifiers, each exported once
    db_instance_identifiers       array    up to MAX_CLUSTERS RDS DB instance identifiers, each exported once
    source_accounts               array    clusters of source accounts: up to MAX_SOURCE_ACCOUNTS objects
                                           {"account_id": "111111111111", "cluster_identifiers": [...]}
                                           (at least one source in all; any list may be left out)
    use_latest_automated_snapshot boolean  as in a single cluster's input, for every cluster
    export_cluster_directly       boolean  as in a single cluster's input, for every cluster
    s3_prefix                     string   as in a single cluster's input, for every cluster
    delete_snapshot_after_export  boolean  as in a single cluster's input, for every cluster

``export_only`` is refused: database and table names differ from one cluster to the next.
``s3_prefix`` is refused together with ``source_accounts``: each source account exports into a
folder of its own, so one prefix cannot serve them all.

Each account (the lake's own, and each source account) is one group of sources, exported with at
most ``max_concurrency`` (FleetMaxConcurrency) at once: RDS runs at most 5 exports at once per
account, so accounts run side by side, each within its own limit.
``export_cluster_directly`` is refused together with DB instances (RDS exports a DB
instance only from a snapshot).

Each source's own execution validates its input again and refuses a cluster outside
AllowedClusterIdentifiers (a DB instance outside AllowedDBInstanceIdentifiers) by itself,
before creating anything (an account that is not a source account: AccountNotAllowed), so one
refused source never stops the others; the summary names it. A malformed fleet input is refused
as a whole.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aurora_lake.errors import InvalidInput
from aurora_lake.input_schema import Problem, invalid_input, json_type, validate_execution_input
from aurora_lake.naming import CLUSTER_IDENTIFIER_MAX_LENGTH, DB_INSTANCE_IDENTIFIER_MAX_LENGTH, identifier_problems, is_account_id

# The most clusters AllowedClusterIdentifiers accepts (and DB instances AllowedDBInstanceIdentifiers).
MAX_CLUSTERS = 20
# Each list of the input: its key, the kind of source, the key of one source's own input.
SOURCE_LISTS = (
    ("cluster_identifiers", "cluster", "cluster_identifier", CLUSTER_IDENTIFIER_MAX_LENGTH),
    ("db_instance_identifiers", "instance", "db_instance_identifier", DB_INSTANCE_IDENTIFIER_MAX_LENGTH),
)
# At most 5 exports run at once per account (RDS), so more concurrent clusters would only wait.
MAX_CONCURRENCY = 5
SHARED_OPTIONS = ("use_latest_automated_snapshot", "export_cluster_directly", "s3_prefix", "delete_snapshot_after_export")
KNOWN_KEYS = ("cluster_identifiers", "db_instance_identifiers", "source_accounts", *SHARED_OPTIONS)
SOURCE_ACCOUNT_KEYS = ("account_id", "cluster_identifiers")
# Source accounts one fleet run exports; and sources in all, so that the run's state (every source's
# input, and every outcome) stays well within Step Functions' 256 KiB.
MAX_SOURCE_ACCOUNTS = 10
MAX_FLEET_SOURCES = 2 * MAX_CLUSTERS
# Step Functions execution names: 1 to 80 characters.
EXECUTION_NAME_MAX_LENGTH = 80

SUCCEEDED, PARTIAL, FAILED, REFUSED = "SUCCEEDED", "PARTIAL", "FAILED", "REFUSED"
# The errors of a source this deployment may not export (refused before anything is created).
REFUSALS = ("ClusterNotAllowed", "DBInstanceNotAllowed", "AccountNotAllowed", "SourceNotOptedIn")


def validate_fleet_input(
    raw: object, *, region: str, account: str, partition: str, default_s3_prefix: str, execution_name: str, max_concurrency: int
) -> dict[str, Any]:
    """The clusters' export inputs and execution names, or InvalidInput listing every problem."""
    if not 1 <= max_concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"the fleet's concurrency {max_concurrency} is not between 1 and {MAX_CONCURRENCY} (parameter FleetMaxConcurrency)")
    if not isinstance(raw, dict):
        raise invalid_input([Problem("input", f"must be a JSON object with cluster_identifiers, got {json_type(raw)}")])
    problems: list[Problem] = []
    for key in raw:
        if key == "export_only":
            problems.append(Problem("export_only", "is not taken by a fleet run: database and table names differ between clusters; start each cluster's export with its own export_only"))
        elif key not in KNOWN_KEYS:
            problems.append(Problem(str(key)[:64], "unknown key; allowed keys are " + ", ".join(KNOWN_KEYS)))
    if not any(key in raw for key, *_ in SOURCE_LISTS) and "source_accounts" not in raw:
        problems.append(Problem("input", "give cluster_identifiers, db_instance_identifiers or source_accounts, the sources to export"))
    sources: list[tuple[str, str, str]] = []  # (kind, input key, identifier)
    for list_key, kind, input_key, max_length in SOURCE_LISTS:
        if list_key not in raw:
            continue
        for identifier in _identifiers(raw[list_key], list_key, max_length, problems):
            sources.append((kind, input_key, identifier))
    foreign = _source_accounts(raw["source_accounts"], account, problems) if "source_accounts" in raw else []
    if not sources and not foreign and not problems:
        problems.append(Problem("input", "names no source to export"))
    total = len(sources) + sum(len(clusters) for _, clusters in foreign)
    if total > MAX_FLEET_SOURCES:
        problems.append(Problem("input", f"names {total} sources; a fleet run exports at most {MAX_FLEET_SOURCES} sources in all"))
    if "source_accounts" in raw and "s3_prefix" in raw:
        problems.append(Problem("s3_prefix", "is not taken together with source_accounts: each source account exports into a folder of its own"))
    options = {key: raw[key] for key in SHARED_OPTIONS if key in raw}
    # The options are checked as a single source's input checks them (every source gets the same).
    for input_key in dict.fromkeys(input_key for _, input_key, _ in sources) or ["cluster_identifier"]:
        example = next((identifier for _, key, identifier in sources if key == input_key), "any-source")
        try:
            validate_execution_input(
                {input_key: example, **options},
                region=region, account=account, partition=partition, allowed_clusters=None, allowed_db_instances=None,
                default_s3_prefix=default_s3_prefix,
            )
        except InvalidInput as error:
            problems.extend(problem for problem in getattr(error, "problems", []) if problem not in problems)
    if problems:
        raise invalid_input(problems)
    own = [
        {"source_kind": kind, "source_identifier": identifier, "source_account": None,
         "execution_name": child_execution_name(execution_name, identifier, kind),
         "input": {input_key: identifier, **options}}
        for kind, input_key, identifier in sources
    ]
    groups = [{"account_id": None, "max_concurrency": max_concurrency, "items": own}] if own else []
    for source_account, clusters in foreign:
        items = [
            {"source_kind": "cluster", "source_identifier": cluster, "source_account": source_account,
             "execution_name": child_execution_name(execution_name, cluster, "cluster", source_account),
             "input": {"cluster_identifier": cluster, "account_id": source_account, **options}}
            for cluster in clusters
        ]
        groups.append({"account_id": source_account, "max_concurrency": max_concurrency, "items": items})
    return {
        "cluster_count": total,
        "max_concurrency": max_concurrency,
        # The lake's own sources (the fleet before source accounts), and every account's group: the state machine maps the groups.
        "items": own,
        "accounts": groups,
    }


def _source_accounts(value: object, lake_account: str, problems: list[Problem]) -> list[tuple[str, list[str]]]:
    """The valid source accounts of the input with their clusters; the problems go to ``problems``."""
    if not isinstance(value, list):
        problems.append(Problem("source_accounts", 'must be an array of {"account_id": ..., "cluster_identifiers": [...]} objects'))
        return []
    if not value:
        problems.append(Problem("source_accounts", "must name at least one source account; leave it out to export none"))
    elif len(value) > MAX_SOURCE_ACCOUNTS:
        problems.append(Problem("source_accounts", f"names {len(value)} accounts; a fleet run exports at most {MAX_SOURCE_ACCOUNTS}"))
    seen: dict[str, int] = {}
    found: list[tuple[str, list[str]]] = []
    for index, entry in enumerate(value):
        field = f"source_accounts[{index}]"
        if not isinstance(entry, dict):
            problems.append(Problem(field, 'must be an object {"account_id": ..., "cluster_identifiers": [...]}'))
            continue
        for key in entry:
            if key not in SOURCE_ACCOUNT_KEYS:
                problems.append(Problem(f"{field}.{str(key)[:64]}", "unknown key; allowed keys are " + ", ".join(SOURCE_ACCOUNT_KEYS)
                                        + " (only clusters of source accounts are exported)"))
        account_id = entry.get("account_id")
        valid_account = False
        if not is_account_id(account_id):
            problems.append(Problem(f"{field}.account_id", "must be a 12-digit AWS account ID (ASCII digits only)"))
        elif account_id == lake_account:
            problems.append(Problem(f"{field}.account_id", "is the lake's own account: the lake's own clusters go in cluster_identifiers"))
        elif account_id in seen:
            problems.append(Problem(f"{field}.account_id", f"duplicates source_accounts[{seen[account_id]}]; give each account once"))
        else:
            seen[account_id] = index
            valid_account = True
        clusters = _identifiers(entry.get("cluster_identifiers", []), f"{field}.cluster_identifiers", CLUSTER_IDENTIFIER_MAX_LENGTH, problems)
        if valid_account and clusters:
            found.append((str(account_id), clusters))
    return found


def _identifiers(value: object, list_key: str, max_length: int, problems: list[Problem]) -> list[str]:
    """The valid, distinct identifiers of one list of the input; its problems go to ``problems``."""
    noun = "cluster" if list_key.endswith("cluster_identifiers") else "DB instance"
    if not isinstance(value, list):
        problems.append(Problem(list_key, f"must be an array of {noun} identifiers" + ("; put even a single one in a list" if isinstance(value, str) else "")))
        return []
    if not value:
        problems.append(Problem(list_key, f"must name at least one {noun}; leave it out to export none"))
    elif len(value) > MAX_CLUSTERS:
        problems.append(Problem(list_key, f"names {len(value)} {noun}s; a fleet run exports at most {MAX_CLUSTERS}"))
    seen: dict[str, int] = {}
    valid: list[str] = []
    for index, identifier in enumerate(value):
        field = f"{list_key}[{index}]"
        if not isinstance(identifier, str):
            problems.append(Problem(field, "must be a string"))
            continue
        reasons = identifier_problems(identifier, max_length)
        problems.extend(Problem(field, reason) for reason in reasons)
        if reasons:
            continue
        if identifier.lower() in seen:
            problems.append(Problem(field, f"duplicates {list_key}[{seen[identifier.lower()]}] ({identifier!r}); each {noun} is exported once"))
            continue
        seen[identifier.lower()] = index
        valid.append(identifier.lower())
    return valid


def child_execution_name(fleet_execution_name: str, cluster: str, kind: str = "cluster", account: str | None = None) -> str:
    """``<source>-<hash>``: the source's execution is found by name, and the name is this fleet run's own.

    A DB instance's hash covers its kind too: a cluster and a DB instance may share a name; a source
    account's cluster's covers its account: clusters of two accounts may share a name.
    """
    parts = [fleet_execution_name, cluster] if kind == "cluster" else [fleet_execution_name, kind, cluster]
    if account is not None:
        parts = [fleet_execution_name, "account", account, cluster]
    digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:12]
    return f"{cluster[: EXECUTION_NAME_MAX_LENGTH - len(digest) - 1]}-{digest}"


# --- the summary ----------------------------------------------------------------------------


def outcome_of(result: dict[str, Any], lake_account: str | None = None) -> dict[str, Any]:
    """One source's outcome from its Map iteration's result (see the fleet state machine).

    The source account: the item's (a source that did not export), or the account of the
    execution's job when it is not the lake's own (``lake_account``).
    """
    cluster = result.get("source_identifier") or result.get("cluster_identifier")
    kind = result.get("source_kind") or "cluster"
    source_account = result.get("source_account")
    if source_account is None and result.get("account") not in (None, lake_account):
        source_account = result.get("account")
    if result.get("status") == SUCCEEDED:
        export, athena = result.get("export") or {}, result.get("athena") or {}
        return {
            "source_kind": kind,
            "source_identifier": cluster,
            **({"source_account": source_account} if source_account else {}),
            "outcome": PARTIAL if (result.get("notification") or {}).get("status") == PARTIAL else SUCCEEDED,
            "execution_arn": result.get("execution_arn"),
            "export_task": export.get("export_task_identifier"),
            "source_arn": export.get("source_arn"),
            "tables_created": athena.get("tables_created", 0),
            "tables_skipped": athena.get("tables_skipped", 0),
            "database": athena.get("database"),
            "sample_table": athena.get("sample_table"),
        }
    error, cause, execution_arn = _child_failure(result)
    return {
        "source_kind": kind,
        "source_identifier": cluster,
        **({"source_account": source_account} if source_account else {}),
        "outcome": REFUSED if error in REFUSALS else FAILED,
        "execution_arn": execution_arn,
        "error": error,
        "cause": cause,
    }


def _child_failure(result: dict[str, Any]) -> tuple[str, str, str | None]:
    """The cluster execution's own error and cause; startExecution.sync:2 wraps them in its Cause."""
    error, cause = str(result.get("error") or "UnknownError"), str(result.get("cause") or "")
    try:
        described = json.loads(cause)
    except ValueError:
        return error, cause, None
    if isinstance(described, dict):
        # The failed execution's description; UNCONFIRMED whether its keys are PascalCase (as the
        # integration's output is) or the API's camelCase, so both are read.
        get = lambda key: described.get(key[0].upper() + key[1:], described.get(key))  # noqa: E731
        if get("error") or get("status"):
            return str(get("error") or error), str(get("cause") or get("status") or ""), get("executionArn")
    return error, cause, None


def summary(results: list[Any], lake_account: str | None = None) -> dict[str, Any]:
    """The fleet's outcome from its sources' results: one list, or one list per account (the map over accounts)."""
    flat = [result for entry in results for result in (entry if isinstance(entry, list) else [entry])]
    outcomes = [outcome_of(result, lake_account) for result in flat]
    failed = [o for o in outcomes if o["outcome"] in (FAILED, REFUSED)]
    status = FAILED if failed else PARTIAL if any(o["outcome"] == PARTIAL for o in outcomes) else SUCCEEDED
    cause = (
        f"{len(failed)} of {len(outcomes)} sources did not export: "
        + ", ".join(f"{o['source_identifier']}{_of_account(o)} ({o['error']})" for o in failed)
        if failed
        else f"all {len(outcomes)} sources exported"
    )
    return {"status": status, "clusters": outcomes, "failed": len(failed), "error": "FleetExportFailed" if failed else None, "cause": cause}


def _of_account(outcome: dict[str, Any]) -> str:
    account = outcome.get("source_account")
    return f" of account {account}" if is_account_id(account) else ""
