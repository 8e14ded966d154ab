"""A fleet run: one export execution per cluster or DB instance, and one summary of them all.

Input (a JSON object; every other key is refused)::

    cluster_identifiers           array    up to MAX_CLUSTERS Aurora cluster identifiers, each exported once
    db_instance_identifiers       array    up to MAX_CLUSTERS RDS DB instance identifiers, each exported once
                                           (at least one source in all; either list may be left out)
    use_latest_automated_snapshot boolean  as in a single cluster's input, for every cluster
    export_cluster_directly       boolean  as in a single cluster's input, for every cluster
    s3_prefix                     string   as in a single cluster's input, for every cluster
    delete_snapshot_after_export  boolean  as in a single cluster's input, for every cluster

``export_only`` is refused: database and table names differ from one cluster to the next.
``export_cluster_directly`` is refused together with DB instances (RDS exports a DB
instance only from a snapshot).

Each source's own execution validates its input again and refuses a cluster outside
AllowedClusterIdentifiers (a DB instance outside AllowedDBInstanceIdentifiers) by itself,
before creating anything, so one refused source never stops the others; the summary names
it. A malformed fleet input is refused as a whole.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aurora_lake.errors import InvalidInput
from aurora_lake.input_schema import Problem, invalid_input, json_type, validate_execution_input
from aurora_lake.naming import CLUSTER_IDENTIFIER_MAX_LENGTH, DB_INSTANCE_IDENTIFIER_MAX_LENGTH, identifier_problems

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
KNOWN_KEYS = ("cluster_identifiers", "db_instance_identifiers", *SHARED_OPTIONS)
# Step Functions execution names: 1 to 80 characters.
EXECUTION_NAME_MAX_LENGTH = 80

SUCCEEDED, PARTIAL, FAILED, REFUSED = "SUCCEEDED", "PARTIAL", "FAILED", "REFUSED"


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
    if not any(key in raw for key, *_ in SOURCE_LISTS):
        problems.append(Problem("input", "give cluster_identifiers or db_instance_identifiers (or both), the sources to export"))
    sources: list[tuple[str, str, str]] = []  # (kind, input key, identifier)
    for list_key, kind, input_key, max_length in SOURCE_LISTS:
        if list_key not in raw:
            continue
        for identifier in _identifiers(raw[list_key], list_key, max_length, problems):
            sources.append((kind, input_key, identifier))
    if not sources and not problems:
        problems.append(Problem("input", "names no source to export"))
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
    return {
        "cluster_count": len(sources),
        "max_concurrency": max_concurrency,
        "items": [
            {"source_kind": kind, "source_identifier": identifier,
             "execution_name": child_execution_name(execution_name, identifier, kind),
             "input": {input_key: identifier, **options}}
            for kind, input_key, identifier in sources
        ],
    }


def _identifiers(value: object, list_key: str, max_length: int, problems: list[Problem]) -> list[str]:
    """The valid, distinct identifiers of one list of the input; its problems go to ``problems``."""
    noun = "cluster" if list_key == "cluster_identifiers" else "DB instance"
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


def child_execution_name(fleet_execution_name: str, cluster: str, kind: str = "cluster") -> str:
    """``<source>-<hash>``: the source's execution is found by name, and the name is this fleet run's own.

    A DB instance's hash covers its kind too: a cluster and a DB instance may share a name.
    """
    parts = [fleet_execution_name, cluster] if kind == "cluster" else [fleet_execution_name, kind, cluster]
    digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:12]
    return f"{cluster[: EXECUTION_NAME_MAX_LENGTH - len(digest) - 1]}-{digest}"


# --- the summary ----------------------------------------------------------------------------


def outcome_of(result: dict[str, Any]) -> dict[str, Any]:
    """One source's outcome from its Map iteration's result (see the fleet state machine)."""
    cluster = result.get("source_identifier") or result.get("cluster_identifier")
    kind = result.get("source_kind") or "cluster"
    if result.get("status") == SUCCEEDED:
        export, athena = result.get("export") or {}, result.get("athena") or {}
        return {
            "source_kind": kind,
            "source_identifier": cluster,
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
        "outcome": REFUSED if error in ("ClusterNotAllowed", "DBInstanceNotAllowed") else FAILED,
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


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    outcomes = [outcome_of(result) for result in results]
    failed = [o for o in outcomes if o["outcome"] in (FAILED, REFUSED)]
    status = FAILED if failed else PARTIAL if any(o["outcome"] == PARTIAL for o in outcomes) else SUCCEEDED
    cause = (
        f"{len(failed)} of {len(outcomes)} sources did not export: "
        + ", ".join(f"{o['source_identifier']} ({o['error']})" for o in failed)
        if failed
        else f"all {len(outcomes)} sources exported"
    )
    return {"status": status, "clusters": outcomes, "failed": len(failed), "error": "FleetExportFailed" if failed else None, "cause": cause}
