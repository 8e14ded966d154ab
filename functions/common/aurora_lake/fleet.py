"""A fleet run: every source of every account, one export execution each, and one summary.

The fleet state machine never carries the list of sources in its state:

1. ``plan`` (ValidateFleetInput) checks the input and writes one item per account to
   ``fleet-runs/<execution>/accounts.json``; the state keeps only the key and counts.
2. A Distributed Map reads those items (ItemReader) and runs one child workflow per account,
   accounts side by side (FleetMaxAccounts at once; 0: as many as Step Functions allows). In each,
   ``list_account_sources`` (the inventory) turns the account's item into its sources, each with
   its export input and execution name, and an inline Map exports them with at most
   FleetMaxConcurrency at once (RDS runs at most 5 exports at once per account). The child's
   output is the account's outcomes, small fields only; the Map writes every child's output to
   ``fleet-runs/<execution>/results/`` (ResultWriter).
3. ``summarize`` reads the results back from S3, writes the full report to
   ``reports/fleets/<execution>.json`` and returns what the e-mail and the state need (bounded).

Input (a JSON object; every other key is refused)::

    cluster_identifiers           array    the lake's own Aurora clusters, each exported once
    db_instance_identifiers       array    the lake's own RDS DB instances, each exported once
    source_accounts               array    clusters of source accounts: objects
                                           {"account_id": "111111111111", "cluster_identifiers": [...]}
    scheduled                     boolean  true: every source the lake knows, in every account it
                                           knows (inventory.py), and the freshness check; alone,
                                           without the three lists
    use_latest_automated_snapshot boolean  as in a single source's input, for every source
    export_cluster_directly       boolean  as in a single cluster's input, for every cluster
    s3_prefix                     string   as in a single source's input, for every source (not with
                                           source accounts: each exports into a folder of its own)
    delete_snapshot_after_export  boolean  as in a single source's input, for every source

``export_only`` is refused: database and table names differ from one source to the next. One
account takes at most ``inventory.MAX_SOURCES_PER_ACCOUNT`` sources and one run at most
``MAX_FLEET_ACCOUNTS`` accounts; the input itself is limited by Step Functions (256 KiB).

Each source's own execution validates its input again and refuses a source this deployment may
not export by itself, before creating anything, so one refused source never stops the others; the
summary names it. A malformed fleet input is refused as a whole, before anything is written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aurora_lake import inventory, naming
from aurora_lake.errors import FleetResultsUnreadable, FleetSourcesNotListed, InvalidInput
from aurora_lake.failure_causes import cause_text
from aurora_lake.input_schema import Problem, invalid_input, json_type, validate_execution_input
from aurora_lake.naming import (
    CLUSTER_IDENTIFIER_MAX_LENGTH,
    DB_INSTANCE_IDENTIFIER_MAX_LENGTH,
    EXECUTION_NAME_MAX_LENGTH,
    identifier_problems,
    is_account_id,
)

# Each list of the input: its key, the kind of source, the key of one source's own input.
SOURCE_LISTS = (
    ("cluster_identifiers", "cluster", "cluster_identifier", CLUSTER_IDENTIFIER_MAX_LENGTH),
    ("db_instance_identifiers", "instance", "db_instance_identifier", DB_INSTANCE_IDENTIFIER_MAX_LENGTH),
)
INPUT_KEYS = {"cluster": "cluster_identifier", "instance": "db_instance_identifier"}
# At most 5 exports run at once per account (RDS), so more concurrent sources would only wait.
MAX_CONCURRENCY = 5
# A Distributed Map runs up to 10,000 child workflows at once (MaxConcurrency 0 or unset).
MAX_ACCOUNTS_AT_ONCE = 10_000
SHARED_OPTIONS = ("use_latest_automated_snapshot", "export_cluster_directly", "s3_prefix", "delete_snapshot_after_export")
KNOWN_KEYS = ("cluster_identifiers", "db_instance_identifiers", "source_accounts", "scheduled", "report_only", *SHARED_OPTIONS)
SOURCE_ACCOUNT_KEYS = ("account_id", "cluster_identifiers")
# Accounts one fleet run exports: the summary reads every account's outcomes back in one
# invocation (a test measures it at this size).
MAX_FLEET_ACCOUNTS = 2_000

SUCCEEDED, PARTIAL, FAILED, REFUSED = "SUCCEEDED", "PARTIAL", "FAILED", "REFUSED"
# The errors of a source this deployment may not export (refused before anything is created).
REFUSALS = ("ClusterNotAllowed", "DBInstanceNotAllowed", "AccountNotAllowed", "SourceNotOptedIn")
# A failed source's error and cause in its account's state, in bytes of JSON: enough to read, never
# enough to grow the state (the full cause stays in the source's own execution).
CAUSE_LIMIT = 400
ERROR_LIMIT = 160


# --- 1. the plan: the input checked, one item per account --------------------------------------


def validate_fleet_input(
    raw: object,
    *,
    region: str,
    account: str,
    partition: str,
    default_s3_prefix: str,
    execution_name: str,
    max_concurrency: int,
    max_accounts: int = 0,
    discovery: Callable[[], tuple[inventory.Discovery, Callable[[inventory.KnownSource, str], bool]]] | None = None,
) -> dict[str, Any]:
    """The run's plan: ``accounts`` (one item per account, for accounts.json) and its counts.

    ``discovery``, for a scheduled run (or ``report_only``): called once the input is valid, it
    returns what the organization's accounts showed (``inventory.discover``) and whether a source
    of an account is due now; without it a scheduled run covers ``inventory.scheduled_accounts``.
    Raises InvalidInput listing every problem; ValueError for a deployment's own bad settings.
    """
    if not 1 <= max_concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"the fleet's concurrency {max_concurrency} is not between 1 and {MAX_CONCURRENCY} (parameter FleetMaxConcurrency)")
    if not 0 <= max_accounts <= MAX_ACCOUNTS_AT_ONCE:
        raise ValueError(f"the fleet's accounts at once {max_accounts} is not between 0 and {MAX_ACCOUNTS_AT_ONCE} (parameter FleetMaxAccounts)")
    if not isinstance(raw, dict):
        raise invalid_input([Problem("input", f"must be a JSON object with cluster_identifiers, got {json_type(raw)}")])
    problems: list[Problem] = []
    for key in raw:
        if key == "export_only":
            problems.append(Problem("export_only", "is not taken by a fleet run: database and table names differ between sources; start each source's export with its own export_only"))
        elif key not in KNOWN_KEYS:
            problems.append(Problem(str(key)[:64], "unknown key; allowed keys are " + ", ".join(KNOWN_KEYS)))
    scheduled = raw.get("scheduled", False)
    if scheduled is not True and scheduled is not False:
        problems.append(Problem("scheduled", f"must be a JSON boolean (true or false), got {json_type(scheduled)}"))
    report_only = raw.get("report_only", False)
    if report_only is not True and report_only is not False:
        problems.append(Problem("report_only", f"must be a JSON boolean (true or false), got {json_type(report_only)}"))
    elif report_only is True and set(raw) - {"report_only"}:
        problems.append(Problem("report_only", "writes the sources report and exports nothing: give it alone"))
    lists = [key for key in ("cluster_identifiers", "db_instance_identifiers", "source_accounts") if key in raw]
    if report_only is True:
        lists = []
    elif scheduled is True and lists:
        problems.append(Problem("scheduled", f"exports every source the lake knows: give it alone, without {' and '.join(lists)}"))
    elif scheduled is not True and not lists:
        problems.append(Problem("input", "give cluster_identifiers, db_instance_identifiers or source_accounts (the sources to export), or scheduled"))
    own: list[tuple[str, str]] = []  # (kind, identifier)
    for list_key, kind, _, max_length in SOURCE_LISTS:
        if list_key in raw:
            own += [(kind, identifier) for identifier in _identifiers(raw[list_key], list_key, max_length, problems)]
    if len(own) > inventory.MAX_SOURCES_PER_ACCOUNT:
        problems.append(Problem("input", f"names {len(own)} sources of the lake's own account; a fleet run exports at most "
                                         f"{inventory.MAX_SOURCES_PER_ACCOUNT} per account"))
    foreign = _source_accounts(raw["source_accounts"], account, problems) if "source_accounts" in raw else []
    if lists and not own and not foreign and not problems:
        problems.append(Problem("input", "names no source to export"))
    if "s3_prefix" in raw and ("source_accounts" in raw or scheduled is True):
        problems.append(Problem("s3_prefix", "is not taken together with source_accounts or scheduled: each source account exports into a folder of its own"))
    options = {key: raw[key] for key in SHARED_OPTIONS if key in raw}
    # The options are checked as a single source's input checks them (every source gets the same).
    for input_key in dict.fromkeys(INPUT_KEYS[kind] for kind, _ in own) or ["cluster_identifier"]:
        try:
            validate_execution_input(
                {input_key: "any-source", **options},
                region=region, account=account, partition=partition, allowed_clusters=None, allowed_db_instances=None,
                default_s3_prefix=default_s3_prefix,
            )
        except InvalidInput as error:
            problems.extend(problem for problem in getattr(error, "problems", []) if problem not in problems)
    if problems:
        raise invalid_input(problems)
    common = {"fleet_execution_name": execution_name, "max_concurrency": max_concurrency, "options": options}
    items: list[dict[str, Any]] = []
    found = discovery() if discovery is not None and (scheduled is True or report_only is True) else None
    if report_only is True:
        pass
    elif scheduled is True and found is not None:
        items = scheduled_items(*found, common)
        if len(items) > MAX_FLEET_ACCOUNTS:
            raise invalid_input([Problem("scheduled", f"the lake knows {len(items)} accounts with sources; a fleet run exports at most {MAX_FLEET_ACCOUNTS}")])
    elif scheduled is True:
        accounts = inventory.scheduled_accounts(account)
        if len(accounts) > MAX_FLEET_ACCOUNTS:
            raise invalid_input([Problem("scheduled", f"the lake knows {len(accounts)} accounts; a fleet run exports at most {MAX_FLEET_ACCOUNTS}")])
        items = [{"account_id": known, "lake_account": known == account, "sources": None, **common} for known in accounts]
    else:
        if own:
            items.append({"account_id": account, "lake_account": True,
                          "sources": [{"kind": kind, "identifier": identifier} for kind, identifier in own], **common})
        items += [{"account_id": source_account, "lake_account": False,
                   "sources": [{"kind": "cluster", "identifier": cluster} for cluster in clusters], **common}
                  for source_account, clusters in foreign]
    listed = [item["sources"] for item in items]
    return {
        "accounts": items,
        "account_count": len(items),
        # Known now when the input names them or discovery found them; else learnt account by account.
        "source_count": sum(len(sources) for sources in listed) if all(isinstance(s, list) for s in listed) else None,
        "scheduled": scheduled is True,
        "report_only": report_only is True,
        "discovery": found[0] if found is not None else None,
        "max_concurrency": max_concurrency,
        "max_accounts": max_accounts,
    }


def scheduled_items(found: inventory.Discovery, is_due: Callable[[inventory.KnownSource, str], bool], common: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A scheduled run's items: the lake's own account (its allow-lists, listed in its own step) and
    each reached account with a source due now (discovered; the others of its sources kept for the
    freshness check). Accounts with nothing due start no child execution."""
    items: list[dict[str, Any]] = []
    if found.lake_sources or found.lake_problem:
        items.append({"account_id": found.lake_account, "lake_account": True, "sources": None, **common})
    for account in found.reached():
        due = [source for source in account.sources if is_due(source, account.account)]
        if not due:
            continue
        items.append({
            "account_id": account.account, "lake_account": False,
            "sources": [{"kind": s.kind, "identifier": s.identifier, "schedule": s.schedule} for s in due],
            "not_due": [{"kind": s.kind, "identifier": s.identifier, "schedule": s.schedule} for s in account.sources if s not in due],
            **common,
        })
    return items


def planned_schedules(items: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, str], str]:
    """(account, kind, identifier) -> schedule of every discovered source of a run's items (due or not)."""
    found: dict[tuple[str, str, str], str] = {}
    for item in items:
        for source in [*(item.get("sources") or []), *(item.get("not_due") or [])]:
            if isinstance(source, Mapping) and source.get("schedule") in inventory.SCHEDULES:
                found[(str(item.get("account_id")), str(source.get("kind")), str(source.get("identifier")))] = str(source["schedule"])
    return found


def _source_accounts(value: object, lake_account: str, problems: list[Problem]) -> list[tuple[str, list[str]]]:
    """The valid source accounts of the input with their clusters; the problems go to ``problems``."""
    if not isinstance(value, list):
        problems.append(Problem("source_accounts", 'must be an array of {"account_id": ..., "cluster_identifiers": [...]} objects'))
        return []
    if not value:
        problems.append(Problem("source_accounts", "must name at least one source account; leave it out to export none"))
    elif len(value) > MAX_FLEET_ACCOUNTS:
        problems.append(Problem("source_accounts", f"names {len(value)} accounts; a fleet run exports at most {MAX_FLEET_ACCOUNTS}"))
    seen: dict[str, int] = {}
    found: list[tuple[str, list[str]]] = []
    for index, entry in enumerate(value[: MAX_FLEET_ACCOUNTS + 1]):
        field_name = f"source_accounts[{index}]"
        if not isinstance(entry, dict):
            problems.append(Problem(field_name, 'must be an object {"account_id": ..., "cluster_identifiers": [...]}'))
            continue
        for key in entry:
            if key not in SOURCE_ACCOUNT_KEYS:
                problems.append(Problem(f"{field_name}.{str(key)[:64]}", "unknown key; allowed keys are " + ", ".join(SOURCE_ACCOUNT_KEYS)
                                        + " (only clusters of source accounts are exported)"))
        account_id = entry.get("account_id")
        valid_account = False
        if not is_account_id(account_id):
            problems.append(Problem(f"{field_name}.account_id", "must be a 12-digit AWS account ID (ASCII digits only)"))
        elif account_id == lake_account:
            problems.append(Problem(f"{field_name}.account_id", "is the lake's own account: the lake's own clusters go in cluster_identifiers"))
        elif account_id in seen:
            problems.append(Problem(f"{field_name}.account_id", f"duplicates source_accounts[{seen[account_id]}]; give each account once"))
        else:
            seen[account_id] = index
            valid_account = True
        clusters = _identifiers(entry.get("cluster_identifiers", []), f"{field_name}.cluster_identifiers", CLUSTER_IDENTIFIER_MAX_LENGTH, problems)
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
    elif len(value) > inventory.MAX_SOURCES_PER_ACCOUNT:
        problems.append(Problem(list_key, f"names {len(value)} {noun}s; a fleet run exports at most {inventory.MAX_SOURCES_PER_ACCOUNT} per account"))
        return []
    seen: dict[str, int] = {}
    valid: list[str] = []
    for index, identifier in enumerate(value):
        field_name = f"{list_key}[{index}]"
        if not isinstance(identifier, str):
            problems.append(Problem(field_name, "must be a string"))
            continue
        reasons = identifier_problems(identifier, max_length)
        problems.extend(Problem(field_name, reason) for reason in reasons)
        if reasons:
            continue
        if identifier.lower() in seen:
            problems.append(Problem(field_name, f"duplicates {list_key}[{seen[identifier.lower()]}] ({identifier!r}); each {noun} is exported once"))
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


# --- 2. one account's step: its sources (the inventory) ----------------------------------------


def list_account_sources(item: Mapping[str, Any], lake_account: str) -> dict[str, Any]:
    """One account's sources, each with its export input and execution name (the account's step).

    The item's own ``sources`` when the input named them; else every source the lake knows in the
    account (``inventory.known_sources``). The result is the account step's whole state.
    """
    account = item.get("account_id")
    if not is_account_id(account):
        raise FleetSourcesNotListed(f"the fleet item names no valid account ({str(account)[:40]!r})")
    fleet_name = item.get("fleet_execution_name")
    options = item.get("options") if isinstance(item.get("options"), dict) else {}
    unknown = set(options) - set(SHARED_OPTIONS)
    if not isinstance(fleet_name, str) or unknown:
        raise FleetSourcesNotListed(f"the fleet item of account {account} is not one the plan writes")
    is_lake = account == lake_account
    if isinstance(item.get("sources"), list):
        listed = [inventory.KnownSource(str(s.get("kind")), str(s.get("identifier"))) for s in item["sources"] if isinstance(s, dict)]
        listed_from = "discovery" if "not_due" in item else "input"
    else:
        listed = inventory.known_sources(str(account), lake_account)
        listed_from = "known sources"
    if len(listed) > inventory.MAX_SOURCES_PER_ACCOUNT:
        raise FleetSourcesNotListed(f"account {account} has {len(listed)} sources; one fleet run exports at most {inventory.MAX_SOURCES_PER_ACCOUNT} per account")
    sources = []
    for source in listed:
        if source.kind not in INPUT_KEYS or identifier_problems(source.identifier, CLUSTER_IDENTIFIER_MAX_LENGTH):
            raise FleetSourcesNotListed(f"account {account} lists a source that is not a cluster or DB instance identifier ({source.identifier[:80]!r})")
        # The shared options are kept once, in the account's state: the map merges them into each
        # source's input (States.JsonMerge), so a long s3_prefix is not repeated for every source.
        export_input: dict[str, Any] = {INPUT_KEYS[source.kind]: source.identifier}
        if not is_lake:
            export_input["account_id"] = account
        sources.append({
            "kind": source.kind,
            "identifier": source.identifier,
            "name": child_execution_name(fleet_name, source.identifier, source.kind, None if is_lake else str(account)),
            "input": export_input,
        })
    max_concurrency = item.get("max_concurrency")
    if not isinstance(max_concurrency, int) or not 1 <= max_concurrency <= MAX_CONCURRENCY:
        raise FleetSourcesNotListed(f"the fleet item of account {account} has no concurrency between 1 and {MAX_CONCURRENCY}")
    return {"account_id": account, "lake_account": is_lake, "listed_from": listed_from, "max_concurrency": max_concurrency,
            "options": options, "sources": sources}


def export_input(source: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """One source's export input as the fleet's map builds it: its own keys and the shared options."""
    return {**source["input"], **options}


# --- 3. a source that was not exported ---------------------------------------------------------


def source_failure(source: Mapping[str, Any], failure: Mapping[str, Any]) -> dict[str, Any]:
    """A source whose execution failed or could not start, as its account's outcome keeps it.

    Bounded (its error and cause cut, counted as JSON), so 200 such outcomes fit in the account's
    state; ``ran`` says whether the source's execution ran (its ARN follows from its name).
    """
    error, cause, execution_arn = child_failure(failure.get("Error"), failure.get("Cause"))
    return {
        "kind": source.get("kind"),
        "identifier": source.get("identifier"),
        "name": source.get("name"),
        "result": {
            "status": REFUSED if error in REFUSALS else FAILED,
            "error": _cut(error, ERROR_LIMIT),
            "cause": _cut(cause, CAUSE_LIMIT),
            "ran": execution_arn is not None,
        },
    }


def child_failure(error: Any, cause: Any) -> tuple[str, str, str | None]:
    """The source execution's own error and cause; startExecution.sync:2 wraps them in its Cause."""
    error_text, cause_value = str(error or "UnknownError"), "" if cause is None else str(cause)
    try:
        described = json.loads(cause_value)
    except ValueError:
        return error_text, cause_value, None
    if isinstance(described, dict):
        # The failed execution's description; UNCONFIRMED whether its keys are PascalCase (as the
        # integration's output is) or the API's camelCase, so both are read.
        get = lambda key: described.get(key[0].upper() + key[1:], described.get(key))  # noqa: E731
        if get("error") or get("status"):
            arn = get("executionArn")
            return str(get("error") or error_text), cause_text(get("cause")) if get("cause") else str(get("status") or ""), arn if isinstance(arn, str) else None
    return error_text, cause_text(cause_value), None


def _cut(text: str, limit: int) -> str:
    """``text``, cut so that it takes at most ``limit`` bytes as JSON (every character counted at its
    escaped length, as a state holds it), with a marker saying how much was cut."""
    if len(json.dumps(text)) <= limit:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest head that fits with its marker
        middle = (low + high + 1) // 2
        if len(json.dumps(text[:middle] + f"...[{len(text) - middle} more characters]")) <= limit:
            low = middle
        else:
            high = middle - 1
    return text[:low] + f"...[{len(text) - low} more characters]"


# --- 4. the results, read back -----------------------------------------------------------------


@dataclass
class SourceOutcome:
    account: str
    lake_account: bool
    kind: str
    identifier: str
    status: str
    execution_arn: str | None = None
    export_task: str | None = None
    tables_created: int = 0
    tables_skipped: int = 0
    sample_table: str | None = None
    error: str | None = None
    cause: str | None = None

    @property
    def exported(self) -> bool:
        return self.status in (SUCCEEDED, PARTIAL)

    def as_json(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items() if value is not None}


@dataclass
class AccountProblem:
    """An account whose sources were not all tried: not listed, its step failed, or never run."""

    account: str
    error: str
    cause: str

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class FleetResults:
    outcomes: list[SourceOutcome] = field(default_factory=list)
    problems: list[AccountProblem] = field(default_factory=list)
    accounts: int = 0

    @property
    def failed(self) -> list[SourceOutcome]:
        return [o for o in self.outcomes if not o.exported]

    @property
    def status(self) -> str:
        if self.failed or self.problems:
            return FAILED
        return PARTIAL if any(o.status == PARTIAL for o in self.outcomes) else SUCCEEDED


def read_results(s3: Any, bucket: str, fleet_execution_name: str, map_run: Mapping[str, Any] | None,
                 export_state_machine_arn: str | None, map_error: Mapping[str, Any] | None = None) -> FleetResults:
    """Every account's outcomes: the plan's accounts, matched with the Distributed Map's result files.

    An account the results do not name (the map never ran it) is a problem of its own; a result
    file not in the form Step Functions writes raises FleetResultsUnreadable naming what is missing.
    """
    planned = _get_json(s3, bucket, naming.fleet_accounts_key(fleet_execution_name))
    if not isinstance(planned, list):
        raise FleetResultsUnreadable(f"{naming.fleet_accounts_key(fleet_execution_name)} is not the fleet's list of accounts")
    expected = [str(item.get("account_id")) for item in planned if isinstance(item, dict)]
    lake_of = {str(item.get("account_id")): bool(item.get("lake_account")) for item in planned if isinstance(item, dict)}
    results = FleetResults(accounts=len(expected))
    seen: set[str] = set()
    for status, entry in _result_entries(s3, bucket, fleet_execution_name, map_run):
        if status == "SUCCEEDED":
            output = _json_field(entry, "Output")
            if not isinstance(output, dict) or not is_account_id(output.get("account_id")) or not isinstance(output.get("sources"), list):
                raise FleetResultsUnreadable(f"a succeeded child's Output is not an account's outcomes: {str(entry.get('Output'))[:200]}")
            account = str(output["account_id"])
            seen.add(account)
            if output.get("error"):
                results.problems.append(AccountProblem(account, _cut(str(output["error"]), ERROR_LIMIT), _cut(cause_text(output.get("cause")), CAUSE_LIMIT)))
                continue
            for source in output["sources"]:
                results.outcomes.append(_outcome(account, lake_of.get(account, False), source, export_state_machine_arn))
        else:
            item = _json_field(entry, "Input")
            account = str(item.get("account_id")) if isinstance(item, dict) else "unknown"
            seen.add(account)
            error = str(entry.get("Error") or f"States.{status.title()}")
            results.problems.append(AccountProblem(account, _cut(error, ERROR_LIMIT), _cut(cause_text(entry.get("Cause")), CAUSE_LIMIT)))
    not_run = "the fleet's map run ended before this account's step ran"
    if isinstance(map_error, Mapping):
        not_run += f": {map_error.get('Error') or 'UnknownError'}: {_cut(cause_text(map_error.get('Cause')), CAUSE_LIMIT)}"
    for account in expected:
        if account not in seen:
            results.problems.append(AccountProblem(account, "AccountNotRun", not_run))
    # In the plan's order of accounts (the result files group children by status, in no set order).
    position = {account: index for index, account in enumerate(expected)}
    results.outcomes.sort(key=lambda outcome: position.get(outcome.account, len(position)))
    results.problems.sort(key=lambda problem: position.get(problem.account, len(position)))
    return results


def _result_entries(s3: Any, bucket: str, fleet_execution_name: str, map_run: Mapping[str, Any] | None) -> Iterable[tuple[str, dict[str, Any]]]:
    details = (map_run or {}).get("ResultWriterDetails") if isinstance(map_run, dict) else None
    if not isinstance(details, dict):
        return
    key, prefix = details.get("Key"), naming.fleet_results_prefix(fleet_execution_name) + "/"
    if details.get("Bucket") != bucket or not isinstance(key, str) or not key.startswith(prefix):
        raise FleetResultsUnreadable(f"the map run wrote its results to {str(details)[:300]}, not under s3://{bucket}/{prefix}")
    manifest = _get_json(s3, bucket, key)
    files = manifest.get("ResultFiles") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise FleetResultsUnreadable(f"s3://{bucket}/{key} has no ResultFiles: it is not a map run's manifest")
    for status, listed in files.items():
        for result_file in listed if isinstance(listed, list) else []:
            result_key = result_file.get("Key") if isinstance(result_file, dict) else None
            if not isinstance(result_key, str) or not result_key.startswith(prefix):
                raise FleetResultsUnreadable(f"the manifest lists a result file outside {prefix}: {str(result_file)[:200]}")
            entries = _get_json(s3, bucket, result_key)
            if not isinstance(entries, list):
                raise FleetResultsUnreadable(f"s3://{bucket}/{result_key} is not a JSON array of child executions")
            for entry in entries:
                if not isinstance(entry, dict) or "Status" not in entry:
                    raise FleetResultsUnreadable(f"s3://{bucket}/{result_key} holds an entry without Status: {str(entry)[:200]}")
                yield str(entry["Status"]), entry


def _json_field(entry: Mapping[str, Any], name: str) -> Any:
    """A child execution's Input or Output: JSON text in a result file (parsed here), or already parsed."""
    if name not in entry:
        raise FleetResultsUnreadable(f"a {entry.get('Status')} child execution's record has no {name}: {sorted(entry)}")
    value = entry[name]
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as error:
            raise FleetResultsUnreadable(f"a child execution's {name} is not JSON: {value[:200]}") from error
    return value


def _outcome(account: str, lake_account: bool, source: Any, export_state_machine_arn: str | None) -> SourceOutcome:
    if not isinstance(source, dict) or not isinstance(source.get("result"), dict):
        raise FleetResultsUnreadable(f"an outcome of account {account} is not a source's: {str(source)[:200]}")
    result = source["result"]
    name = source.get("name")
    execution_arn = None if result.get("ran") is False else _execution_arn(export_state_machine_arn, name)
    outcome = SourceOutcome(
        account=account, lake_account=lake_account, kind=str(source.get("kind")), identifier=str(source.get("identifier")),
        status=str(result.get("status") or FAILED), execution_arn=execution_arn,
    )
    if outcome.status in (SUCCEEDED, PARTIAL):
        outcome.export_task = _text(result.get("export_task"))
        outcome.tables_created = _count(result.get("tables_created"))
        outcome.tables_skipped = _count(result.get("tables_skipped"))
        outcome.sample_table = _text(result.get("sample_table"))
    else:
        outcome.status = REFUSED if result.get("error") in REFUSALS else FAILED
        outcome.error = _cut(str(result.get("error") or "UnknownError"), ERROR_LIMIT)
        outcome.cause = _cut(str(result.get("cause") or ""), CAUSE_LIMIT)
    return outcome


def _execution_arn(state_machine_arn: str | None, name: Any) -> str | None:
    if not isinstance(state_machine_arn, str) or ":stateMachine:" not in state_machine_arn or not isinstance(name, str):
        return None
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _get_json(s3: Any, bucket: str, key: str) -> Any:
    from botocore.exceptions import ClientError

    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        raise FleetResultsUnreadable(f"s3://{bucket}/{key} could not be read: {error}") from error
    try:
        return json.loads(body)
    except ValueError as error:
        raise FleetResultsUnreadable(f"s3://{bucket}/{key} is not JSON") from error


# --- 5. the summary ----------------------------------------------------------------------------

# Names in the Fail state's cause: the report has them all.
CAUSE_NAMES = 10


def summary_cause(results: FleetResults, report_uri: str) -> str:
    """The run's error cause: counts and the first few sources and accounts not exported."""
    failed = results.failed
    total = len(results.outcomes)
    if not failed and not results.problems:
        return f"all {total} sources exported"
    names = [f"{o.identifier}{_of_account(o)} ({o.error})" for o in failed[:CAUSE_NAMES]]
    names += [f"account {p.account} ({p.error})" for p in results.problems[: max(0, CAUSE_NAMES - len(names))]]
    shown = len(names)
    rest = len(failed) + len(results.problems) - shown
    parts = []
    if failed:
        parts.append(f"{len(failed)} of {total} sources did not export")
    if results.problems:
        count = len(results.problems)
        parts.append(f"{count} account was not exported in full" if count == 1 else f"{count} accounts were not exported in full")
    text = " and ".join(parts) + ": " + ", ".join(names)
    if rest > 0:
        text += f", and {rest} more (every one in {report_uri})"
    return text


def _of_account(outcome: SourceOutcome) -> str:
    return "" if outcome.lake_account else f" of account {outcome.account}"


def report(results: FleetResults, *, fleet: Mapping[str, Any], execution_arn: str | None, execution_name: str,
           finished_at: float, stale_sources: list[dict[str, Any]] | None, map_error: Mapping[str, Any] | None) -> dict[str, Any]:
    """``reports/fleets/<execution>.json``: every source with its outcome, every account problem."""
    return {
        "version": 1,
        "fleet_execution": execution_name,
        "execution_arn": execution_arn,
        "started_at": fleet.get("started_epoch"),
        "finished_at": finished_at,
        "status": results.status,
        "scheduled": bool(fleet.get("scheduled")),
        "accounts": results.accounts,
        "sources": len(results.outcomes),
        "exported": sum(1 for o in results.outcomes if o.exported),
        "failed": len(results.failed),
        "account_problems": [p.as_json() for p in results.problems],
        "map_error": dict(map_error) if isinstance(map_error, Mapping) else None,
        "stale_sources": stale_sources,
        "outcomes": [o.as_json() for o in results.outcomes],
    }
