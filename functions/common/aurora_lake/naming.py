"""Identifier rules, deterministic resource names and ARN parsing.

RDS identifiers (clusters, cluster snapshots, export tasks) share one set of
rules: they begin with a letter, hold only ASCII letters, digits and hyphens,
never end with a hyphen and never hold two hyphens in a row. RDS compares them
without regard to case and stores them in lower case, so every name built here
is lower case.

The snapshot and export task names are derived only from stable inputs (the
cluster and execution name; the snapshot and what is exported). Running a step
again - a Lambda retry, a redrive, a second execution over the same snapshot -
therefore finds the resource the first run created and adopts it instead of
creating a second one.

Standard library only: every function imports this module on a cold start.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from typing import NamedTuple

# DBClusterIdentifier: 1 to 63 characters (RDS API reference).
CLUSTER_IDENTIFIER_MAX_LENGTH = 63
# DBClusterSnapshotIdentifier: 1 to 255 characters (RDS API reference).
CLUSTER_SNAPSHOT_IDENTIFIER_MAX_LENGTH = 255
# DBInstanceIdentifier: 1 to 63 characters; DBSnapshotIdentifier: 1 to 255 (RDS API reference,
# CreateDBInstance and CreateDBSnapshot), with the same character rules as a cluster's.
DB_INSTANCE_IDENTIFIER_MAX_LENGTH = 63
DB_SNAPSHOT_IDENTIFIER_MAX_LENGTH = 255
# The ARN resource type of each kind of snapshot: an Aurora cluster's, and a DB instance's.
CLUSTER_SNAPSHOT_RESOURCE = "cluster-snapshot"
DB_SNAPSHOT_RESOURCE = "snapshot"
SNAPSHOT_RESOURCE_TYPES = (CLUSTER_SNAPSHOT_RESOURCE, DB_SNAPSHOT_RESOURCE)
# ExportTaskIdentifier: AWS does not document the exact maximum. Existing tools
# cut these names to 60 characters, so names built here never exceed 60; if the
# real limit were lower, StartExportTask would reject the name loudly.
EXPORT_TASK_IDENTIFIER_MAX_LENGTH = 60

# Automated cluster snapshots are named "rds:<name>" by RDS itself.
AUTOMATED_SNAPSHOT_PREFIX = "rds:"
# AWS Backup names the cluster snapshots it keeps as recovery points "awsbackup:job-<uuid>": the
# name does not carry the cluster, which only DescribeDBClusterSnapshots tells.
AWS_BACKUP_SNAPSHOT_PREFIX = "awsbackup:"
SERVICE_SNAPSHOT_PREFIXES = (AUTOMATED_SNAPSHOT_PREFIX, AWS_BACKUP_SNAPSHOT_PREFIX)

KNOWN_PARTITIONS = frozenset({"aws", "aws-cn", "aws-us-gov"})

_HASH_LENGTH = 12
_ILLEGAL_RUN = re.compile(r"[^a-z0-9]+")
_ACCOUNT = re.compile(r"[0-9]{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")


# --- identifier rules -------------------------------------------------------


def identifier_problems(name: str, max_length: int) -> list[str]:
    """Every way ``name`` breaks the RDS identifier rules, as readable reasons.

    An empty list means the name is valid. The caller checks that it is a
    string; anything else is reported as a single problem here.
    """
    if not isinstance(name, str):
        return ["must be a string"]
    if not name:
        return ["must not be empty"]
    problems: list[str] = []
    if len(name) > max_length:
        problems.append(f"must be at most {max_length} characters (got {len(name)})")
    if not _is_ascii_letter(name[0]):
        problems.append("must begin with a letter")
    illegal = _illegal_characters(name)
    if illegal:
        problems.append(f"may contain only ASCII letters, digits and hyphens (found {describe_characters(illegal)})")
    if name.endswith("-"):
        problems.append("must not end with a hyphen")
    if "--" in name:
        problems.append("must not contain two consecutive hyphens")
    return problems


def is_valid_identifier(name: str, max_length: int) -> bool:
    return not identifier_problems(name, max_length)


def sanitize_identifier(text: str, max_length: int) -> str:
    """Turn any text into a valid identifier of at most ``max_length`` characters.

    Deterministic and lower case: accents are folded (``é`` -> ``e``), every run
    of other characters becomes one hyphen, a name that does not begin with a
    letter gets an ``x`` in front, and the result is cut without leaving a
    trailing hyphen. Different texts can give the same result (``a_b`` and
    ``a-b``), so names that must be unique add a hash of the original text.
    """
    if max_length < 1:
        raise ValueError("max_length must be at least 1")
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    name = _ILLEGAL_RUN.sub("-", folded).strip("-")
    if not name:
        return "x"
    if not _is_ascii_letter(name[0]):
        name = "x" + name
    return name[:max_length].rstrip("-")


def _is_ascii_letter(ch: str) -> bool:
    return ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _illegal_characters(name: str) -> list[str]:
    seen: dict[str, None] = {}
    for ch in name:
        if not (_is_ascii_letter(ch) or "0" <= ch <= "9" or ch == "-"):
            seen.setdefault(ch, None)
    return list(seen)


def describe_characters(chars: Iterable[str]) -> str:
    """``'_', space, '\\t'``: characters named unambiguously in a problem message."""
    return ", ".join("space" if ch == " " else repr(ch) for ch in chars)


def _short_hash(*parts: object) -> str:
    # JSON keeps the parts apart unambiguously ("a", "bc" differs from "ab", "c").
    encoded = json.dumps(parts, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return hashlib.sha256(encoded).hexdigest()[:_HASH_LENGTH]


def _with_hash(readable: str, digest: str, max_length: int) -> str:
    room = max_length - len(digest) - 1
    head = sanitize_identifier(readable, room)
    return f"{head}-{digest}"


# --- deterministic names ----------------------------------------------------


def snapshot_identifier(cluster_identifier: str, execution_name: str) -> str:
    """The manual snapshot an execution creates (of a cluster, or of a DB instance by its identifier).

    ``<cluster>-lake-<hash>`` where the hash covers the cluster and the
    execution name: a retry or redrive of the same execution gets the same
    name, any other execution a different one. The cluster identifier is
    never cut (at most 63 + 18 characters, within the 255 RDS allows), so the
    deployment's IAM policy can scope snapshot writes to ``<cluster>-lake-*``.
    """
    cluster = cluster_identifier.lower()
    digest = _short_hash("snapshot", cluster, execution_name)
    return _with_hash(f"{cluster}-lake", digest, CLUSTER_SNAPSHOT_IDENTIFIER_MAX_LENGTH)


def is_own_snapshot(snapshot_name: str, clusters: Iterable[str]) -> bool:
    """True when the name is exactly what ``snapshot_identifier`` gives one of ``clusters``.

    The exact shape (``<cluster>-lake-`` and the hash's length of lower-case hex digits), never a
    substring: a cluster may well be named ``data-lake-prod``.
    """
    name = snapshot_name.lower()
    for cluster in clusters:
        head = f"{cluster.lower()}-lake-"
        digest = name[len(head):]
        if name.startswith(head) and len(digest) == _HASH_LENGTH and all(c in "0123456789abcdef" for c in digest):
            return True
    return False


def named_after_one_of(snapshot_name: str, clusters: Iterable[str]) -> bool:
    """True when the name has the form IAM lets this deployment export: ``<cluster>-...`` or ``rds:<cluster>-...``."""
    bare = snapshot_name.lower().removeprefix(AUTOMATED_SNAPSHOT_PREFIX)
    return any(bare.startswith(cluster.lower() + "-") for cluster in clusters)


def export_task_identifier(snapshot_arn: str, export_only: Iterable[str] | None, s3_prefix: str) -> str:
    """The export task for a snapshot exported with the given settings.

    The same snapshot exported with the same settings always maps to the same
    name, so a second run finds the task of the first instead of exporting (and
    paying for) the snapshot twice. The order of ``export_only`` does not change
    what is exported and so does not change the name. The readable part is the
    snapshot name (an automated ``rds:`` name becomes ``rds-...``), cut to fit;
    the hash keeps names apart. At most 60 characters.
    """
    if isinstance(export_only, str):
        raise TypeError("export_only must be a list of names, not one string")
    parts = parse_snapshot_arn(snapshot_arn)
    canonical_arn = parts.with_name(parts.snapshot_identifier.lower()).arn
    tables = None if export_only is None else sorted(set(export_only))
    digest = _short_hash("export", canonical_arn, tables, normalize_s3_prefix(s3_prefix))
    return _with_hash(parts.snapshot_identifier, digest, EXPORT_TASK_IDENTIFIER_MAX_LENGTH)


def cluster_export_task_identifier(
    cluster_arn_: str, execution_name: str, export_only: Iterable[str] | None, s3_prefix: str
) -> str:
    """The export task of a direct cluster export (no snapshot) by one execution.

    A cluster's data changes, so unlike a snapshot's export the name covers the
    execution: a retried or redriven step adopts its own task, and every other
    execution exports the cluster's data of its own time. At most 60 characters.
    """
    if isinstance(export_only, str):
        raise TypeError("export_only must be a list of names, not one string")
    parts = split_arn(cluster_arn_)
    resource_type, _, cluster = parts.resource.partition(":")
    if parts.service != "rds" or resource_type != "cluster" or not cluster:
        raise ValueError(f"not an Aurora cluster ARN: {cluster_arn_[:200]!r}")
    canonical = cluster_arn(parts.partition, parts.region, parts.account, cluster.lower())
    tables = None if export_only is None else sorted(set(export_only))
    digest = _short_hash("cluster-export", canonical, execution_name, tables, normalize_s3_prefix(s3_prefix))
    return _with_hash(f"{cluster}-data", digest, EXPORT_TASK_IDENTIFIER_MAX_LENGTH)


def normalize_s3_prefix(prefix: str) -> str:
    """``exports`` and ``exports/`` name the same folder; the empty prefix stays empty."""
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


# --- ARNs ---------------------------------------------------------------------


class ArnParts(NamedTuple):
    partition: str
    service: str
    region: str
    account: str
    resource: str  # everything after the account, e.g. "cluster-snapshot:rds:name"


class SnapshotArn(NamedTuple):
    """A snapshot ARN: of an Aurora cluster (``cluster-snapshot:``) or of a DB instance (``snapshot:``)."""

    partition: str
    region: str
    account: str
    snapshot_identifier: str  # may start with "rds:" (automated) or "awsbackup:" (AWS Backup)
    resource_type: str = CLUSTER_SNAPSHOT_RESOURCE

    @property
    def is_cluster_snapshot(self) -> bool:
        return self.resource_type == CLUSTER_SNAPSHOT_RESOURCE

    def with_name(self, snapshot_identifier: str) -> SnapshotArn:
        return self._replace(snapshot_identifier=snapshot_identifier)

    @property
    def is_automated(self) -> bool:
        return self.snapshot_identifier.startswith(AUTOMATED_SNAPSHOT_PREFIX)

    @property
    def is_aws_backup(self) -> bool:
        return self.snapshot_identifier.startswith(AWS_BACKUP_SNAPSHOT_PREFIX)

    @property
    def arn(self) -> str:
        return f"arn:{self.partition}:rds:{self.region}:{self.account}:{self.resource_type}:{self.snapshot_identifier}"


# The name older callers know; a cluster snapshot ARN is a SnapshotArn of type cluster-snapshot.
ClusterSnapshotArn = SnapshotArn


class StateMachineArn(NamedTuple):
    partition: str
    region: str
    account: str
    name: str


def is_account_id(text: object) -> bool:
    """A 12-digit AWS account ID (ASCII digits only: ``str.isdigit`` would take other scripts' digits)."""
    return isinstance(text, str) and _ACCOUNT.fullmatch(text) is not None


def split_arn(arn: str) -> ArnParts:
    """Split ``arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE``; ValueError if not that shape."""
    if not isinstance(arn, str):
        raise ValueError("an ARN must be a string")
    pieces = arn.split(":", 5)
    if len(pieces) != 6 or pieces[0] != "arn":
        raise ValueError(f"not an ARN (expected arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE): {arn[:120]!r}")
    _, partition, service, region, account, resource = pieces
    return ArnParts(partition, service, region, account, resource)


def parse_cluster_snapshot_arn(arn: str) -> SnapshotArn:
    """Parse ``arn:PARTITION:rds:REGION:ACCOUNT:cluster-snapshot:NAME`` (see ``parse_snapshot_arn``)."""
    return parse_snapshot_arn(arn, (CLUSTER_SNAPSHOT_RESOURCE,))


def parse_snapshot_arn(arn: str, resource_types: tuple[str, ...] = SNAPSHOT_RESOURCE_TYPES) -> SnapshotArn:
    """Parse a cluster snapshot ARN (``...:cluster-snapshot:NAME``) or a DB snapshot ARN (``...:snapshot:NAME``).

    Checks the structure (known partition, service rds, Region and account
    shapes, resource type, a valid name, optionally ``rds:`` or ``awsbackup:``-prefixed); raises
    ValueError naming the first part that is wrong. Whether the Region and
    account are this deployment's is the caller's decision.
    """
    parts = split_arn(arn)
    if parts.partition not in KNOWN_PARTITIONS:
        raise ValueError(f"unknown partition {parts.partition!r}")
    if parts.service != "rds":
        raise ValueError(f"service is {parts.service!r}, not 'rds'")
    if not _REGION.fullmatch(parts.region):
        raise ValueError(f"{parts.region!r} is not a Region")
    if not _ACCOUNT.fullmatch(parts.account):
        raise ValueError(f"{parts.account!r} is not a 12-digit account ID")
    resource_type, sep, name = parts.resource.partition(":")
    if resource_type not in resource_types or not sep:
        raise ValueError(f"resource type is {resource_type!r}, not " + " or ".join(repr(t) for t in resource_types))
    problems = snapshot_name_problems(name)
    if problems:
        raise ValueError(f"snapshot name {name[:80]!r} " + "; ".join(problems))
    return SnapshotArn(parts.partition, parts.region, parts.account, name, resource_type)


def snapshot_name_problems(name: str) -> list[str]:
    """Problems of a snapshot name as it appears in an ARN (``rds:`` and ``awsbackup:`` allowed).

    Cluster and DB snapshot identifiers follow the same rules and the same 255-character limit.
    """
    for prefix in SERVICE_SNAPSHOT_PREFIXES:
        if name.startswith(prefix):
            problems = identifier_problems(name[len(prefix) :], CLUSTER_SNAPSHOT_IDENTIFIER_MAX_LENGTH - len(prefix))
            return [f"(after {prefix}) {problem}" for problem in problems]
    return identifier_problems(name, CLUSTER_SNAPSHOT_IDENTIFIER_MAX_LENGTH)


def parse_state_machine_arn(arn: str) -> StateMachineArn:
    """Parse ``arn:PARTITION:states:REGION:ACCOUNT:stateMachine:NAME``.

    An execution ARN (``...:execution:MACHINE:EXECUTION``) gives its state
    machine's parts as well, so either can be passed.
    """
    parts = split_arn(arn)
    if parts.partition not in KNOWN_PARTITIONS:
        raise ValueError(f"unknown partition {parts.partition!r}")
    if parts.service != "states":
        raise ValueError(f"service is {parts.service!r}, not 'states'")
    if not _REGION.fullmatch(parts.region) or not _ACCOUNT.fullmatch(parts.account):
        raise ValueError(f"not a state machine ARN: {arn[:200]!r}")
    resource_type, _, rest = parts.resource.partition(":")
    name = rest.split(":", 1)[0]
    if resource_type not in ("stateMachine", "execution", "express") or not name:
        raise ValueError(f"not a state machine ARN: {arn[:200]!r}")
    return StateMachineArn(parts.partition, parts.region, parts.account, name)


def cluster_arn(partition: str, region: str, account: str, cluster_identifier: str) -> str:
    return f"arn:{partition}:rds:{region}:{account}:cluster:{cluster_identifier}"


def cluster_snapshot_arn(partition: str, region: str, account: str, snapshot_identifier: str) -> str:
    return f"arn:{partition}:rds:{region}:{account}:cluster-snapshot:{snapshot_identifier}"


def db_instance_arn(partition: str, region: str, account: str, db_instance_identifier: str) -> str:
    return f"arn:{partition}:rds:{region}:{account}:db:{db_instance_identifier}"


def db_snapshot_arn(partition: str, region: str, account: str, snapshot_identifier: str) -> str:
    return f"arn:{partition}:rds:{region}:{account}:snapshot:{snapshot_identifier}"


def iam_role_arn(partition: str, account: str, role_name: str) -> str:
    return f"arn:{partition}:iam::{account}:role/{role_name}"


# --- the organization: names both templates compute, tags both sides read ------------------

# The lake's stack name is the lake's name: its roles, the source roles' names and the opt-in tag's
# value. IAM role names hold at most 64 characters: 30 + "-source-export-" (15) + the longest
# Region name (14) fits; CloudFormation keeps the stack name whole in its generated role names.
LAKE_STACK_NAME_MAX_LENGTH = 30
IAM_ROLE_NAME_MAX_LENGTH = 64
# A cluster or DB instance opts in to a lake with this tag, its value the lake's stack name
# (compared exactly, as IAM's StringEquals does). The lake tags every snapshot it takes with it
# (so IAM lets it be exported) and with TAKEN_BY_TAG (so IAM lets the lake delete it).
OPT_IN_TAG = "aurora-lake:export"
TAKEN_BY_TAG = "aurora-lake:taken-by"
# A source's own schedule: daily (also when absent), weekly or manual.
SCHEDULE_TAG = "aurora-lake:schedule"
EXECUTION_TAG = "aurora-lake:execution"
PURPOSE_TAG = "aurora-lake:purpose"


def _source_role_name(lake_stack_name: str, role: str, region: str) -> str:
    if not lake_stack_name or len(lake_stack_name) > LAKE_STACK_NAME_MAX_LENGTH:
        raise ValueError(
            f"the lake's stack name {lake_stack_name[:80]!r} must hold 1 to {LAKE_STACK_NAME_MAX_LENGTH} characters: "
            "the source accounts' role names are built from it"
        )
    if not _REGION.fullmatch(region):
        raise ValueError(f"{region[:40]!r} is not a Region")
    name = f"{lake_stack_name}-source-{role}-{region}"
    if len(name) > IAM_ROLE_NAME_MAX_LENGTH:
        raise ValueError(f"role name {name!r} is longer than IAM's {IAM_ROLE_NAME_MAX_LENGTH} characters")
    return name


def source_access_role_name(lake_stack_name: str, region: str) -> str:
    """The role source-account.yaml creates for the lake's functions: ``<lake>-source-access-<Region>``."""
    return _source_role_name(lake_stack_name, "access", region)


def source_export_role_name(lake_stack_name: str, region: str) -> str:
    """The role source-account.yaml creates for RDS to write the exports: ``<lake>-source-export-<Region>``."""
    return _source_role_name(lake_stack_name, "export", region)


# --- folders of the export bucket ------------------------------------------------

# Under the exports area, the folder of each source account's exports: ``{area}accounts/{account}/``.
# The source account's export role may write only there (the lake's bucket policy); the lake's own
# exports never use it.
SOURCE_ACCOUNTS_FOLDER = "accounts/"


def source_account_exports_area(exports_area: str, account: str) -> str:
    """The folder of a source account's exports, inside the deployment's exports area."""
    if not is_account_id(account):
        raise ValueError(f"{str(account)[:40]!r} is not a 12-digit account ID")
    return normalize_s3_prefix(exports_area) + SOURCE_ACCOUNTS_FOLDER + account + "/"

# Folders of the export bucket the stack uses for itself (Athena results, table plans and
# reports, the ledger of exports, export wait tokens, the Iceberg tables' metadata, the drift
# log): no export may be written in or over one.
ATHENA_RESULTS_FOLDER = "athena-results/"
ATHENA_PLANS_FOLDER = "athena-plans/"
ATHENA_CATALOG_FOLDER = "athena-catalog/"
EXPORT_WAITS_FOLDER = "export-waits/"
ICEBERG_FOLDER = "iceberg/"
DRIFT_LOG_FOLDER = "drift-log/"
# The one Glue table over every export's drift log file (no "__": never a latest table's name;
# no leading "_": never a 2.x versioned or an archived table's).
DRIFT_LOG_TABLE = "aurora_lake_drift_log"
# Reports for people: reports/runs/<execution name>.json (one per run of the export state machine),
# reports/fleets/ and reports/freshness/; a fleet run's items and its Distributed Map's results
# (fleet-runs/<execution>/...); and the state the stack keeps between runs (state/last-success/:
# when each source last exported).
FLEET_RUNS_FOLDER = "fleet-runs/"
REPORTS_FOLDER = "reports/"
RUN_REPORTS_FOLDER = REPORTS_FOLDER + "runs/"
STATE_FOLDER = "state/"
STACK_FOLDERS = (
    ATHENA_RESULTS_FOLDER, ATHENA_PLANS_FOLDER, ATHENA_CATALOG_FOLDER, EXPORT_WAITS_FOLDER,
    ICEBERG_FOLDER, DRIFT_LOG_FOLDER, FLEET_RUNS_FOLDER, REPORTS_FOLDER, STATE_FOLDER,
)


def folders_overlap(a: str, b: str) -> bool:
    """Whether one folder (``x/y/``) equals, holds or lies inside the other."""
    return a.startswith(b) or b.startswith(a)


def could_be_export_folder(segment: str) -> bool:
    """Whether a folder name could be an export task's own folder (a valid export task identifier)."""
    return not identifier_problems(segment, EXPORT_TASK_IDENTIFIER_MAX_LENGTH)


# --- export wait tokens ---------------------------------------------------------


def export_wait_token_key(prefix: str, export_task_identifier: str, account: str | None = None) -> str:
    """Where an export wait leaves its task token: ``PREFIX<account>/<export task identifier>``.

    Export task identifiers are unique per account only, so the key carries the account the
    export runs in (the lake's own for its own exports): one account's export can never wake
    another's wait. The state machine builds the same key (``States.Format`` in WaitForExport)
    from the prefix the template gives both. ``account`` None is the key of older waits,
    ``PREFIX<export task identifier>`` (read as the lake account's).
    """
    if not prefix.endswith("/"):
        raise ValueError(f"the export wait token prefix must end with '/': {prefix!r}")
    problems = identifier_problems(export_task_identifier, EXPORT_TASK_IDENTIFIER_MAX_LENGTH)
    if problems:
        raise ValueError(f"export task identifier {export_task_identifier[:80]!r} " + "; ".join(problems))
    if account is None:
        return prefix + export_task_identifier
    return prefix + account_folder(account) + export_task_identifier


def account_folder(account: str) -> str:
    """``<account>/``: the folder of one account's state (wait tokens, plans, ledger) in a stack folder."""
    if not is_account_id(account):
        raise ValueError(f"{str(account)[:40]!r} is not a 12-digit account ID")
    return account + "/"


# --- fleet runs, reports and the stack's state -------------------------------------------------


def fleet_accounts_key(fleet_execution_name: str) -> str:
    """The fleet run's items, one per account, that its Distributed Map reads (ItemReader)."""
    return f"{FLEET_RUNS_FOLDER}{_execution_folder(fleet_execution_name)}/accounts.json"


def fleet_results_prefix(fleet_execution_name: str) -> str:
    """Where the fleet's Distributed Map writes its results (ResultWriter); the definition builds the same."""
    return f"{FLEET_RUNS_FOLDER}{_execution_folder(fleet_execution_name)}/results"


def fleet_report_key(fleet_execution_name: str) -> str:
    """The full report of one fleet run: every source with its outcome."""
    return f"{REPORTS_FOLDER}fleets/{_execution_folder(fleet_execution_name)}.json"


FRESHNESS_REPORT_KEY = f"{REPORTS_FOLDER}freshness/latest.json"
SOURCES_REPORT_KEY = f"{REPORTS_FOLDER}sources/latest.json"


def sources_report_key(epoch: float, fleet_execution_name: str) -> str:
    """The dated copy of the sources report: ``reports/sources/<UTC date>/<execution>.json``."""
    import datetime as dt

    day = dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%d")
    return f"{REPORTS_FOLDER}sources/{day}/{_execution_folder(fleet_execution_name)}.json"
LAST_SUCCESS_FOLDER = f"{STATE_FOLDER}last-success/"


def last_success_key(account: str, kind: str, identifier: str) -> str:
    """``state/last-success/<account>/<kind>/<identifier>.json``: when the source last exported.

    Only validated values name the key: a 12-digit account, a known kind and an RDS identifier
    (letters, digits and hyphens), so no source can write another's marker.
    """
    if not is_account_id(account):
        raise ValueError(f"{str(account)[:40]!r} is not a 12-digit account ID")
    if kind not in ("cluster", "instance"):
        raise ValueError(f"unknown source kind {str(kind)[:40]!r}")
    problems = identifier_problems(identifier, max(CLUSTER_IDENTIFIER_MAX_LENGTH, DB_INSTANCE_IDENTIFIER_MAX_LENGTH))
    if problems:
        raise ValueError(f"source identifier {str(identifier)[:80]!r} " + "; ".join(problems))
    return f"{LAST_SUCCESS_FOLDER}{account}/{kind}/{identifier.lower()}.json"


def _execution_folder(execution_name: str) -> str:
    """A Step Functions execution name as one folder: it holds no ``/`` (StartExecution refuses one)."""
    if not isinstance(execution_name, str) or not 1 <= len(execution_name) <= 80 or "/" in execution_name:
        raise ValueError(f"{str(execution_name)[:100]!r} is not a Step Functions execution name")
    return execution_name


# Step Functions execution names: 1 to 80 characters; letters, digits, hyphens and underscores are
# the characters CloudWatch Logs accepts too (StartExecution reference).
EXECUTION_NAME_MAX_LENGTH = 80
TRIGGER_EXECUTION_PREFIX = "snapshot-"


def trigger_execution_name(snapshot_arn: str) -> str:
    """The one execution name every event about this snapshot (or recovery point) starts.

    ``snapshot-<readable name>-<hash>``: the hash covers the whole ARN with the snapshot's name in
    lower case (RDS stores it so), so the snapshot-created event and AWS Backup's job event of one
    recovery point, and every replay of either, name the same execution, and Step Functions starts
    it once (StartExecution refuses a used name: ExecutionAlreadyExists).
    """
    parts = parse_snapshot_arn(snapshot_arn)
    canonical = parts.with_name(parts.snapshot_identifier.lower()).arn
    digest = hashlib.sha256(canonical.encode("ascii")).hexdigest()[:16]
    room = EXECUTION_NAME_MAX_LENGTH - len(TRIGGER_EXECUTION_PREFIX) - len(digest) - 1
    readable = sanitize_identifier(parts.snapshot_identifier.replace(":", "-"), room)
    return f"{TRIGGER_EXECUTION_PREFIX}{readable}-{digest}"
