"""Which accounts a scheduled fleet covers, and which sources each account has.

The one place that knows where the lake's sources come from. A fleet names its sources in its
input; a scheduled fleet (``"scheduled": true``) asks this module instead. The lake's own
account's sources are its allow-lists, AllowedClusterIdentifiers and AllowedDBInstanceIdentifiers
(``known_sources``). With an organization (OrganizationId), the accounts are the organization's
ACTIVE accounts, or those in SourceOrganizationalUnitIds at any depth (``scheduled_accounts``:
AWS Organizations' ListAccounts, or ListOrganizationalUnitsForParent and ListAccountsForParent,
every page), never the lake's own; and each account's sources are its clusters and DB instances
that carry the opt-in tag ``aurora-lake:export`` = the lake's stack name, with their schedule tag
``aurora-lake:schedule`` (``discover_account``: DescribeDBClusters and DescribeDBInstances
through the account's access role, every page). An account whose role cannot be assumed or read
is reported (the stack set has not reached it, or it left the OUs), never failing the others.
``discover`` does all of it at once, for the scheduled fleet's plan and for the sources report
(``reports/sources/latest.json``). Nothing here is a parameter: onboarding an account or a
database changes no lake resource.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, EndpointConnectionError

from aurora_lake import naming, settings
from aurora_lake.errors import FleetSourcesNotListed, error_code

# Sources one account exports in one fleet run: its step's state (every source's input while the
# map starts them, then every outcome) stays well within Step Functions' 256 KiB (a test computes
# the largest), and RDS's default quota is 40 DB clusters and 40 DB instances per Region.
MAX_SOURCES_PER_ACCOUNT = 200
KINDS = ("cluster", "instance")


# The schedule tag's values (naming.SCHEDULE_TAG): how often the scheduled fleet exports a source.
DAILY, WEEKLY, MANUAL = "daily", "weekly", "manual"
SCHEDULES = (DAILY, WEEKLY, MANUAL)
# A weekly source is exported by the scheduled run that finds its last success at least this old
# (or none): once a week with a daily schedule, whatever the hour each run starts.
WEEKLY_DUE_HOURS = 156.0
# A weekly source may be this much older than a daily one before it is stale.
WEEKLY_EXTRA_HOURS = 144.0
# Accounts read at once (each: AssumeRole and two describes); AWS Organizations' List* calls are
# sequential (paged by 20 at most).
DISCOVERY_WORKERS = 16
# Entries of each kind a sources report names (its counts are always whole).
REPORT_LIST_LIMIT = 5_000


@dataclass(frozen=True, order=True)
class KnownSource:
    kind: str  # "cluster" | "instance"
    identifier: str
    schedule: str = DAILY  # DAILY | WEEKLY | MANUAL


@dataclass
class AccountDiscovery:
    """What one account showed the lake: its opted-in sources, or why it could not be read."""

    account: str
    sources: list[KnownSource] = field(default_factory=list)
    # Tagged for another lake, or an unknown schedule value: (kind, identifier, what), values escaped.
    notes: list[dict[str, str]] = field(default_factory=list)
    unreachable: str | None = None  # why the account could not be read (None: it was)


def shown(value: object) -> str:
    """A value another account wrote, JSON-escaped (control characters and all) and cut (opt_in.shown)."""
    from aurora_lake import opt_in

    return opt_in.shown(value)


def organizational_unit_ids() -> list[str]:
    """SourceOrganizationalUnitIds (SOURCE_ORGANIZATIONAL_UNIT_IDS): empty = every account of the organization."""
    return [unit.strip() for unit in (os.environ.get("SOURCE_ORGANIZATIONAL_UNIT_IDS") or "").split(",") if unit.strip()]


def _is_active(account: Mapping[str, Any]) -> bool:
    # State replaces the deprecated Status (botocore's organizations model: Account); either says ACTIVE.
    return (account.get("State") or account.get("Status")) == "ACTIVE"


def organization_accounts(organizations: Any, organization_id: str, unit_ids: Iterable[str]) -> dict[str, str]:
    """The organization's ACTIVE accounts (or those in ``unit_ids`` at any depth): account -> where (root or OU).

    DescribeOrganization first: a lake whose account is not in ``organization_id`` fails loudly
    (FleetSourcesNotListed naming both IDs) rather than listing another organization. Errors are
    AWS Organizations' own: AccessDeniedException when the lake account is neither the management
    account nor allowed by the organization's delegation policy (docs/organization.md).
    """
    found_id = organizations.describe_organization()["Organization"]["Id"]
    if found_id != organization_id:
        raise FleetSourcesNotListed(f"the lake's account is in organization {shown(found_id)}, not {organization_id} (parameter OrganizationId)")
    accounts: dict[str, str] = {}
    units = list(unit_ids)
    if not units:
        for page in organizations.get_paginator("list_accounts").paginate():
            accounts.update({str(a["Id"]): "organization" for a in page.get("Accounts", []) if _is_active(a)})
        return accounts
    pending, seen = list(units), set()
    while pending:
        parent = pending.pop(0)
        if parent in seen:
            continue
        seen.add(parent)
        for page in organizations.get_paginator("list_accounts_for_parent").paginate(ParentId=parent):
            accounts.update({str(a["Id"]): parent for a in page.get("Accounts", []) if _is_active(a) and str(a["Id"]) not in accounts})
        for page in organizations.get_paginator("list_organizational_units_for_parent").paginate(ParentId=parent):
            pending += [str(unit["Id"]) for unit in page.get("OrganizationalUnits", [])]
    return accounts


def scheduled_accounts(lake_account: str) -> list[str]:
    """Every account a scheduled fleet exports: the lake's own first, then (with OrganizationId) every
    ACTIVE account of the organization or of SourceOrganizationalUnitIds, the lake's never twice."""
    organization = settings.organization_id()
    if organization is None:
        return [lake_account]
    from aurora_lake.clients import client

    listed = organization_accounts(client("organizations"), organization, organizational_unit_ids())
    return [lake_account, *sorted(account for account in listed if account != lake_account)]


def source_schedule(tags: Mapping[str, str]) -> tuple[str, str | None]:
    """The source's schedule from its tags, and a note when its value is not one of SCHEDULES (then daily)."""
    value = tags.get(naming.SCHEDULE_TAG)
    if value is None or value in SCHEDULES:
        return value or DAILY, None
    return DAILY, f"{naming.SCHEDULE_TAG} is {shown(value)}, not one of {', '.join(SCHEDULES)}: exported daily"


def _records(rds: Any, operation: str, result_key: str) -> Iterable[Mapping[str, Any]]:
    for page in rds.get_paginator(operation).paginate():
        yield from page.get(result_key, [])


def discover_account(account: str, lake: str) -> AccountDiscovery:
    """The clusters and DB instances of ``account`` opted in to ``lake``, read through its access role.

    Aurora's DB instances belong to their cluster (exported as the cluster) and are never sources
    of their own. A value that is not an RDS identifier, a tag for another lake or an unknown
    schedule becomes a note, escaped and cut. An account whose role cannot be assumed or that
    refuses a describe is unreachable (AWS's error code says why), never an exception.
    """
    from aurora_lake import sources as kinds
    from aurora_lake.sources.base import tags_of

    found = AccountDiscovery(account)
    try:
        for kind in (kinds.CLUSTER, kinds.INSTANCE):
            source = kind.in_account(account)
            for record in _records(source.rds_client(), source.describe_source, source.source_list):
                if kind is kinds.INSTANCE and record.get("DBClusterIdentifier"):
                    continue
                identifier = record.get(source.rds.source_parameter)
                tags = tags_of(record.get("TagList"))
                value = tags.get(naming.OPT_IN_TAG)
                if value is None:
                    continue
                if value != lake:
                    found.notes.append({"kind": kind.kind, "identifier": shown(identifier), "note": f"{naming.OPT_IN_TAG} is {shown(value)}, another lake's"})
                    continue
                if not isinstance(identifier, str) or naming.identifier_problems(identifier, naming.CLUSTER_IDENTIFIER_MAX_LENGTH):
                    found.notes.append({"kind": kind.kind, "identifier": shown(identifier), "note": "not an RDS identifier: not exported"})
                    continue
                schedule, note = source_schedule(tags)
                if note:
                    found.notes.append({"kind": kind.kind, "identifier": identifier.lower(), "note": note})
                found.sources.append(KnownSource(kind.kind, identifier.lower(), schedule))
    except ClientError as error:
        code = error_code(error)
        found.unreachable = f"{code}: " + (
            "the lake cannot assume its access role there (the stack set has not deployed it, or the account left the organization or its OUs)"
            if _is_assume_role_error(error) else f"its access role refused {shown(error.operation_name)}"
        )
        found.sources.clear()
    except EndpointConnectionError as error:
        found.unreachable = f"unreachable: {shown(error)}"
        found.sources.clear()
    found.sources.sort()
    return found


def _is_assume_role_error(error: ClientError) -> bool:
    return error.operation_name == "AssumeRole"


@dataclass
class Discovery:
    """Every account the lake knows and what each showed: the plan of a scheduled fleet and the sources report."""

    lake_account: str
    lake: str
    organization_id: str | None
    unit_ids: list[str]
    accounts: dict[str, str]  # account -> where it was found (organization, or its OU)
    lake_sources: list[KnownSource]
    lake_problem: str | None
    found: list[AccountDiscovery]

    def reached(self) -> list[AccountDiscovery]:
        return [account for account in self.found if account.unreachable is None]


def discover(lake_account: str, *, read: Callable[[str, str], AccountDiscovery] = discover_account) -> Discovery:
    """Every account and source a scheduled fleet would export, read now."""
    lake = settings.lake_stack_name() if settings.organization_id() else settings.optional("AURORA_LAKE_STACK", "")
    try:
        own, problem = known_sources(lake_account, lake_account), None
    except FleetSourcesNotListed as error:
        own, problem = [], str(error)
    organization = settings.organization_id()
    if organization is None:
        return Discovery(lake_account, lake, None, [], {}, own, problem, [])
    from aurora_lake.clients import client

    units = organizational_unit_ids()
    listed = organization_accounts(client("organizations"), organization, units)
    listed.pop(lake_account, None)  # the lake's own account is never a source account
    with ThreadPoolExecutor(max_workers=DISCOVERY_WORKERS) as pool:
        futures = [pool.submit(contextvars.copy_context().run, read, account, lake) for account in sorted(listed)]
        found = [future.result() for future in futures]
    return Discovery(lake_account, lake, organization, units, listed, own, problem, found)


def due(source: KnownSource, last_success: float | None, now: float) -> bool:
    """Whether a scheduled run exports the source now: daily always, weekly once its last success is a week old, manual never."""
    if source.schedule == MANUAL:
        return False
    if source.schedule == WEEKLY:
        return last_success is None or now - last_success >= WEEKLY_DUE_HOURS * 3600
    return True


def stale_after_hours(schedule: str, daily_hours: float) -> float | None:
    """Hours without a success before a source of this schedule is stale (None: never, a manual source)."""
    if schedule == MANUAL:
        return None
    return daily_hours + (WEEKLY_EXTRA_HOURS if schedule == WEEKLY else 0.0)


def sources_report(discovery: Discovery, now: float, fleet_execution: str | None, due: Mapping[str, int] | None = None) -> dict[str, Any]:
    """``reports/sources/latest.json``: which sources the lake knows and why, and which accounts it could not reach.

    ``due``: account -> sources this scheduled run exports there (None: every source not manual, as
    a run may). An account with more than MAX_SOURCES_PER_ACCOUNT of them is named in
    ``over_limit``: its step of the run fails with FleetSourcesNotListed.
    """
    def bounded(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return entries[:REPORT_LIST_LIMIT]

    lake_why = {"cluster": "AllowedClusterIdentifiers", "instance": "AllowedDBInstanceIdentifiers"}
    sources = [{"account": discovery.lake_account, "kind": s.kind, "identifier": s.identifier, "schedule": s.schedule,
                "why": f"the lake's own account, named in {lake_why[s.kind]}"} for s in discovery.lake_sources]
    notes: list[dict[str, Any]] = []
    for account in discovery.reached():
        where = discovery.accounts.get(account.account, "organization")
        place = f"organizational unit {where}" if where.startswith("ou-") else f"organization {discovery.organization_id}"
        sources += [{"account": account.account, "kind": s.kind, "identifier": s.identifier, "schedule": s.schedule,
                     "why": f"tag {naming.OPT_IN_TAG} = {discovery.lake}; account in {place}"} for s in account.sources]
        notes += [{"account": account.account, **note} for note in account.notes]
    unreachable = [{"account": a.account, "why": a.unreachable} for a in discovery.found if a.unreachable is not None]
    over_limit = []
    for account in discovery.reached():
        count = due.get(account.account, 0) if due is not None else sum(1 for s in account.sources if s.schedule != MANUAL)
        if count > MAX_SOURCES_PER_ACCOUNT:
            over_limit.append({"account": account.account, "sources": count, "why": (
                f"{count} sources {'due in this run' if due is not None else 'a scheduled run may export (not manual)'}; one fleet run "
                f"exports at most {MAX_SOURCES_PER_ACCOUNT} per account: the account's step fails with FleetSourcesNotListed and "
                f"exports none of them (tag some {naming.SCHEDULE_TAG} = {WEEKLY} or {MANUAL}, or export them with fleet runs naming "
                f"at most {MAX_SOURCES_PER_ACCOUNT})")})
    schedules = {schedule: sum(1 for s in sources if s["schedule"] == schedule) for schedule in SCHEDULES}
    return {
        "version": 1,
        "generated_at": dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat(),
        "lake": discovery.lake,
        "lake_account": discovery.lake_account,
        "organization_id": discovery.organization_id,
        "organizational_units": discovery.unit_ids,
        "fleet_execution": fleet_execution,
        "accounts_listed": len(discovery.accounts),
        "accounts_reached": len(discovery.reached()),
        "accounts_unreachable": len(unreachable),
        "source_count": len(sources),
        "schedules": schedules,
        "lake_sources_problem": discovery.lake_problem,
        "sources": bounded(sources),
        "notes": bounded(notes),
        "note_count": len(notes),
        "unreachable": bounded(unreachable),
        "over_limit": bounded(over_limit),
    }


def known_sources(account: str, lake_account: str) -> list[KnownSource]:
    """Every source of ``account`` the lake exports on its schedule.

    Raises FleetSourcesNotListed when they cannot be listed by name (an allow-list of ``*``) or
    are more than one run takes; the account's step then fails alone, and the summary says why.
    """
    if not naming.is_account_id(account):
        raise FleetSourcesNotListed(f"{str(account)[:40]!r} is not a 12-digit account ID")
    if account != lake_account:
        raise FleetSourcesNotListed(f"account {account} is not the lake's: a fleet exports a source account's sources when its input names them")
    clusters = _listed("ALLOWED_CLUSTERS", "AllowedClusterIdentifiers")
    instances = _listed("ALLOWED_DB_INSTANCES", "AllowedDBInstanceIdentifiers")
    found = [KnownSource("cluster", name) for name in clusters] + [KnownSource("instance", name) for name in instances]
    if len(found) > MAX_SOURCES_PER_ACCOUNT:
        raise FleetSourcesNotListed(
            f"account {account} has {len(found)} sources; one fleet run exports at most {MAX_SOURCES_PER_ACCOUNT} per account"
        )
    return found


def _listed(variable: str, parameter: str) -> list[str]:
    allowed = settings.allowed_identifiers(variable)
    if allowed is None:
        raise FleetSourcesNotListed(
            f"{parameter} does not list its sources by name ('*' or unset): a scheduled fleet exports the sources "
            f"{parameter} names, so list them there"
        )
    return sorted(name.lower() for name in allowed)
