"""A fleet run: one export execution per cluster, and one summary of them all.

Input (a JSON object; every other key is refused)::

    cluster_identifiers           array    1 to MAX_CLUSTERS cluster identifiers, each exported once
    use_latest_automated_snapshot boolean  as in a single cluster's input, for every cluster
    export_cluster_directly       boolean  as in a single cluster's input, for every cluster
    s3_prefix                     string   as in a single cluster's input, for every cluster
    delete_snapshot_after_export  boolean  as in a single cluster's input, for every cluster

``export_only`` is refused: database and table names differ from one cluster to the next.

Each cluster's own execution validates its input again and refuses a cluster outside
AllowedClusterIdentifiers by itself, before creating anything, so one refused cluster never
stops the others; the summary names it. A malformed fleet input is refused as a whole.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aurora_lake.errors import InvalidInput
from aurora_lake.input_schema import Problem, invalid_input, json_type, validate_execution_input
from aurora_lake.naming import CLUSTER_IDENTIFIER_MAX_LENGTH, identifier_problems

# The most clusters AllowedClusterIdentifiers accepts.
MAX_CLUSTERS = 20
# At most 5 exports run at once per account (RDS), so more concurrent clusters would only wait.
MAX_CONCURRENCY = 5
SHARED_OPTIONS = ("use_latest_automated_snapshot", "export_cluster_directly", "s3_prefix", "delete_snapshot_after_export")
KNOWN_KEYS = ("cluster_identifiers", *SHARED_OPTIONS)
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
    clusters = raw.get("cluster_identifiers")
    if "cluster_identifiers" not in raw:
        problems.append(Problem("input", "give cluster_identifiers, the clusters to export"))
        clusters = []
    elif not isinstance(clusters, list):
        problems.append(Problem("cluster_identifiers", "must be an array of cluster identifiers" + ("; put even a single one in a list" if isinstance(clusters, str) else "")))
        clusters = []
    elif not clusters:
        problems.append(Problem("cluster_identifiers", "must name at least one cluster"))
    elif len(clusters) > MAX_CLUSTERS:
        problems.append(Problem("cluster_identifiers", f"names {len(clusters)} clusters; a fleet run exports at most {MAX_CLUSTERS}"))
    seen: dict[str, int] = {}
    valid: list[str] = []
    for index, cluster in enumerate(clusters):
        field = f"cluster_identifiers[{index}]"
        if not isinstance(cluster, str):
            problems.append(Problem(field, "must be a string"))
            continue
        reasons = identifier_problems(cluster, CLUSTER_IDENTIFIER_MAX_LENGTH)
        problems.extend(Problem(field, reason) for reason in reasons)
        if reasons:
            continue
        if cluster.lower() in seen:
            problems.append(Problem(field, f"duplicates cluster_identifiers[{seen[cluster.lower()]}] ({cluster!r}); each cluster is exported once"))
            continue
        seen[cluster.lower()] = index
        valid.append(cluster.lower())
    options = {key: raw[key] for key in SHARED_OPTIONS if key in raw}
    # The options are checked as a single cluster's input checks them (every cluster gets the same).
    try:
        validate_execution_input(
            {"cluster_identifier": valid[0] if valid else "any-cluster", **options},
            region=region, account=account, partition=partition, allowed_clusters=None, default_s3_prefix=default_s3_prefix,
        )
    except InvalidInput as error:
        problems.extend(getattr(error, "problems", []))
    if problems:
        raise invalid_input(problems)
    return {
        "cluster_count": len(valid),
        "max_concurrency": max_concurrency,
        "items": [
            {"cluster_identifier": cluster, "execution_name": child_execution_name(execution_name, cluster),
             "input": {"cluster_identifier": cluster, **options}}
            for cluster in valid
        ],
    }


def child_execution_name(fleet_execution_name: str, cluster: str) -> str:
    """``<cluster>-<hash>``: the cluster's execution is found by name, and the name is this fleet run's own."""
    digest = hashlib.sha256(json.dumps([fleet_execution_name, cluster]).encode()).hexdigest()[:12]
    return f"{cluster[: EXECUTION_NAME_MAX_LENGTH - len(digest) - 1]}-{digest}"


# --- the summary ----------------------------------------------------------------------------


def outcome_of(result: dict[str, Any]) -> dict[str, Any]:
    """One cluster's outcome from its Map iteration's result (see the fleet state machine)."""
    cluster = result.get("cluster_identifier")
    if result.get("status") == SUCCEEDED:
        export, athena = result.get("export") or {}, result.get("athena") or {}
        return {
            "cluster_identifier": cluster,
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
        "cluster_identifier": cluster,
        "outcome": REFUSED if error == "ClusterNotAllowed" else FAILED,
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
        f"{len(failed)} of {len(outcomes)} clusters did not export: "
        + ", ".join(f"{o['cluster_identifier']} ({o['error']})" for o in failed)
        if failed
        else f"all {len(outcomes)} clusters exported"
    )
    return {"status": status, "clusters": outcomes, "failed": len(failed), "error": "FleetExportFailed" if failed else None, "cause": cause}
