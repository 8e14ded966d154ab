"""Which accounts a scheduled fleet covers, and which sources each account has.

The one place that knows where the lake's sources come from. A fleet names its sources in its
input; a scheduled fleet (``"scheduled": true``) asks this module instead, once for the accounts
(``scheduled_accounts``, when the run is planned) and once per account (``known_sources``, in
that account's own step of the Distributed Map, so an account's list never travels with the
others'). The lake's own account's sources are its allow-lists, AllowedClusterIdentifiers and
AllowedDBInstanceIdentifiers. Source accounts are not listed in any parameter: a fleet exports
their sources when its input names them (``source_accounts``). Discovering them (the organization's
accounts, the sources' opt-in tags) means changing these two functions and nothing else: the fleet,
its state machine and its summary stay as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

from aurora_lake import naming, settings
from aurora_lake.errors import FleetSourcesNotListed

# Sources one account exports in one fleet run: its step's state (every source's input while the
# map starts them, then every outcome) stays well within Step Functions' 256 KiB (a test computes
# the largest), and RDS's default quota is 40 DB clusters and 40 DB instances per Region.
MAX_SOURCES_PER_ACCOUNT = 200
KINDS = ("cluster", "instance")


@dataclass(frozen=True, order=True)
class KnownSource:
    kind: str  # "cluster" | "instance"
    identifier: str


def scheduled_accounts(lake_account: str) -> list[str]:
    """Every account a scheduled fleet exports: the lake's own."""
    return [lake_account]


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
