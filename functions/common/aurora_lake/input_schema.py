"""The execution input's schema, checked before the workflow creates anything.

Input (a JSON object; every other key is refused, so a typo such as
``export_onyl`` can never silently export the whole database)::

    cluster_identifier            string   take a new snapshot of this Aurora cluster
    db_instance_identifier        string   or of this RDS DB instance (MySQL, MariaDB, PostgreSQL)
    snapshot_arn                  string   or export this existing snapshot: an Aurora cluster
                                           snapshot (cluster-snapshot:) or a DB snapshot (snapshot:)
    use_latest_automated_snapshot boolean  with cluster_identifier or db_instance_identifier: export
                                           its newest automated snapshot instead of taking one (default false)
    export_cluster_directly       boolean  with cluster_identifier: export the cluster's current data
                                           directly, with no snapshot at all (default false; clusters only:
                                           RDS exports a DB instance's data only from a snapshot)
    aws_backup_job                object   or export the recovery point of this AWS Backup job: the
                                           ``detail`` of a "Backup Job State Change" event (the
                                           optional AWS Backup trigger passes it as it comes)
    export_only                   array    databases / tables to export (default: everything)
    s3_prefix                     string   folder in the export bucket (default: deployment's)
    delete_snapshot_after_export  boolean  delete the snapshot this execution took (default true)
    account_id                    string   the 12-digit account of the source or snapshot: an account
                                           of the lake's organization (OrganizationId), or the lake's
                                           own (the default); a snapshot ARN of a source account
                                           names it too
    trigger                       string   set by the stack's event rules ("snapshot-event",
                                           "aws-backup"): a snapshot this deployment must not
                                           export then ends the run quietly instead of failing
    event_account                 string   set by the rules for source accounts' events: the account
                                           the event came from, which must be the snapshot's own

Exactly one of ``cluster_identifier``, ``db_instance_identifier``, ``snapshot_arn`` and
``aws_backup_job`` is given. An AWS Backup job is an event AWS writes, not user typing: only
the fields the export needs are read from it (``recoveryPointArn``, ``resourceType``,
``state``), and a job that is not a COMPLETED backup of an Aurora cluster (``Aurora``,
a cluster snapshot) or of a DB instance (``RDS``, a DB snapshot) is refused.

Decisions worth knowing:

* A source account's clusters and DB instances are exported in that account, through its access
  role, into ``{exports area}accounts/{account}/``: the only folder its export role may write. Any
  12-digit account is taken here when the lake has an organization: IAM decides which accounts (the
  access role exists, and the lake may assume it, only in the organization's targeted accounts) and
  the source's opt-in tag which databases (opt_in.py, checked before anything is created). Without
  an organization, another account is refused (AccountNotAllowed). The lake's own exports never use
  ``{exports area}accounts/``. An event of one account naming another account's snapshot
  (``event_account``) is refused.

* ``s3_prefix`` may not be empty, and lies in the exports area (the deployment's
  default prefix, the only folder the export role may write): the bucket root and
  the stack's own folders hold Athena results, table plans, the ledger of exports
  and wait tokens. No folder below the area may be named like an export task
  identifier, so an export can never land inside another export's folder. It is
  normalised to end with ``/``. Beyond the ``:`` that
  StartExportTask refuses, it is limited to ASCII letters, digits and ``- _ . / =``
  because it also ends up in IAM resource ARNs, Athena ``LOCATION`` strings and
  console links.
* ``delete_snapshot_after_export: true`` is refused together with
  ``snapshot_arn``, ``use_latest_automated_snapshot`` or
  ``export_cluster_directly``: the workflow never
  deletes a snapshot it did not take, and saying so beats ignoring the request.
  ``false`` is accepted in every mode.
* Cluster identifiers and snapshot names are returned in lower case, as RDS
  stores them, so the same cluster always yields the same derived names.
* For ``snapshot_arn`` the source is only known once the snapshot has been
  described, so the allowed-source check here covers ``cluster_identifier`` and
  ``db_instance_identifier`` only.

Problems are reported all at once, one ``field: reason`` line each, ordered by
field (``input``, the input as a whole, first; ``export_only[2]`` before
``export_only[10]``). At most ``MAX_LISTED_PROBLEMS`` lines are listed, plus one
line counting the rest, so that a huge malformed input still fits in a Step
Functions error cause.
"""

from __future__ import annotations

import difflib
import json
import re
from typing import Any, NamedTuple

from aurora_lake import limits
from aurora_lake.errors import AccountNotAllowed, ClusterNotAllowed, DBInstanceNotAllowed, InvalidInput
from aurora_lake.naming import (
    AUTOMATED_SNAPSHOT_PREFIX,
    CLUSTER_IDENTIFIER_MAX_LENGTH,
    CLUSTER_SNAPSHOT_RESOURCE,
    DB_INSTANCE_IDENTIFIER_MAX_LENGTH,
    DB_SNAPSHOT_RESOURCE,
    SOURCE_ACCOUNTS_FOLDER,
    STACK_FOLDERS,
    could_be_export_folder,
    describe_characters,
    folders_overlap,
    identifier_problems,
    is_account_id,
    normalize_s3_prefix,
    snapshot_name_problems,
    source_account_exports_area,
)

KNOWN_KEYS: tuple[str, ...] = (
    "cluster_identifier",
    "db_instance_identifier",
    "snapshot_arn",
    "use_latest_automated_snapshot",
    "export_cluster_directly",
    "aws_backup_job",
    "export_only",
    "s3_prefix",
    "delete_snapshot_after_export",
    "trigger",
    "account_id",
    "event_account",
)
# What the stack's own event rules write in the "trigger" field of the input they send.
TRIGGERS: tuple[str, ...] = ("snapshot-event", "aws-backup")

# StartExportTask limits ExportOnly to 200 KB; counted here as 200,000 bytes of
# the JSON-encoded list, the stricter reading, so a list near the limit fails
# here with a clear message rather than at StartExportTask.
EXPORT_ONLY_MAX_BYTES = 200_000
# S3 keys hold at most 1,024 bytes; the export adds its task id, database,
# table and file names after the prefix.
S3_PREFIX_MAX_LENGTH = 900
MAX_LISTED_PROBLEMS = 50

SNAPSHOT_MODES = ("create", "existing", "latest_automated", "cluster")
# The job's source_kind, by the key or snapshot ARN that names the source.
CLUSTER_KIND, INSTANCE_KIND = "cluster", "instance"
_KIND_OF_SNAPSHOT_RESOURCE = {CLUSTER_SNAPSHOT_RESOURCE: CLUSTER_KIND, DB_SNAPSHOT_RESOURCE: INSTANCE_KIND}

_EXPORT_ONLY_PART = re.compile(r"[A-Za-z0-9$_]+")
_EXPORT_ONLY_ILLEGAL = re.compile(r"[^A-Za-z0-9$_.]")
_S3_PREFIX_ILLEGAL = re.compile(r"[^A-Za-z0-9\-_./=]")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


class Problem(NamedTuple):
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


def validate_execution_input(
    raw: object,
    *,
    region: str,
    account: str,
    partition: str,
    allowed_clusters: frozenset[str] | None,
    default_s3_prefix: str,
    allowed_db_instances: frozenset[str] | None = frozenset(),
    organization_id: str | None = None,
) -> dict[str, Any]:
    """Check the execution input and return the job's normalised fields.

    Returns a JSON-serialisable dict with exactly these keys:
    ``snapshot_mode`` ("create" | "existing" | "latest_automated" | "cluster", the last
    exporting the cluster's data directly, without a snapshot),
    ``source_kind`` ("cluster" | "instance"), ``source_identifier`` (the cluster or DB
    instance, or None until a given snapshot has been described),
    ``cluster_identifier`` (str | None), ``db_instance_identifier`` (str | None),
    ``snapshot_arn`` (str | None),
    ``snapshot_identifier`` (the ARN's name part, possibly ``rds:...``, or None),
    ``export_only`` (list[str] | None), ``s3_prefix`` (str ending in ``/``),
    ``delete_snapshot_after_export`` (bool; False unless a snapshot is taken); and
    ``source_account`` (the 12-digit source account) only when the source is in one.
    ``organization_id``: the lake's organization (OrganizationId), None for a lake of one account.

    Raises InvalidInput listing every problem, or ClusterNotAllowed (DBInstanceNotAllowed)
    when the input is valid but names a lake cluster outside ``allowed_clusters`` (a DB instance
    outside ``allowed_db_instances``); None: no restriction; an empty set: nothing is allowed;
    AccountNotAllowed when it names another account and the lake has no organization. Raises
    ValueError when ``default_s3_prefix`` itself breaks the prefix rules (a deployment error).
    """
    default_problems = _s3_prefix_problems(default_s3_prefix) if isinstance(default_s3_prefix, str) else ["not a string"]
    if not default_problems:
        default_problems = [f"overlaps the stack's own folder {folder}" for folder in STACK_FOLDERS
                            if folders_overlap(normalize_s3_prefix(default_s3_prefix), folder)]
    if default_problems:
        raise ValueError(f"the default S3 prefix {default_s3_prefix!r} is not usable: " + "; ".join(default_problems))

    problems: list[Problem] = []
    if not isinstance(raw, dict):
        problems.append(Problem("input", _top_level_reason(raw)))
        raise invalid_input(problems)

    def add(field: str, reasons: list[str]) -> None:
        problems.extend(Problem(field, reason) for reason in reasons)

    for key in raw:
        if key not in KNOWN_KEYS:
            add(_field_name(key), [_unknown_key_reason(key)])

    cluster = raw.get("cluster_identifier")
    if "cluster_identifier" in raw:
        add("cluster_identifier", _cluster_identifier_problems(cluster))

    instance = raw.get("db_instance_identifier")
    if "db_instance_identifier" in raw:
        add("db_instance_identifier", _string_problems(instance) or identifier_problems(instance, DB_INSTANCE_IDENTIFIER_MAX_LENGTH))

    arn = raw.get("snapshot_arn")
    if "snapshot_arn" in raw:
        add("snapshot_arn", _snapshot_arn_problems(arn, region=region, account=account, partition=partition, organization=organization_id is not None))

    if "aws_backup_job" in raw:
        backup_arn, backup_problems = _aws_backup_job_problems(
            raw["aws_backup_job"], region=region, account=account, partition=partition, organization=organization_id is not None
        )
        problems.extend(backup_problems)
        if "snapshot_arn" in raw:
            add("input", ["give either snapshot_arn or aws_backup_job, not both"])
        elif backup_arn is not None:
            arn = backup_arn

    if "trigger" in raw and raw["trigger"] not in TRIGGERS:
        add("trigger", [f"must be one of {', '.join(TRIGGERS)} (set by the stack's event rules), got {_show(raw['trigger'])}"])

    account_id = raw.get("account_id")
    if "account_id" in raw:
        add("account_id", _account_id_problems(account_id))
    # The account the input names: account_id, else the snapshot's (None: not known, or invalid).
    arn_account = arn.split(":", 6)[4] if isinstance(arn, str) and len(arn.split(":", 6)) == 7 and is_account_id(arn.split(":", 6)[4]) else None
    named_account = account_id if is_account_id(account_id) else arn_account
    if is_account_id(account_id) and arn_account is not None and arn_account != account_id:
        field = "snapshot_arn" if "snapshot_arn" in raw else "aws_backup_job.recoveryPointArn"
        add(field, [f"account {arn_account!r} is not account_id {account_id!r}: a snapshot is exported in its own account"])
    source_account = named_account if named_account is not None and named_account != account else None
    if "event_account" in raw:
        add("event_account", _event_account_problems(raw["event_account"], "trigger" in raw, named_account or account))
    exports_area = source_account_exports_area(default_s3_prefix, source_account) if source_account else default_s3_prefix

    use_latest = raw.get("use_latest_automated_snapshot", False)
    add("use_latest_automated_snapshot", _boolean_problems(use_latest))

    direct = raw.get("export_cluster_directly", False)
    add("export_cluster_directly", _boolean_problems(direct))

    delete = raw.get("delete_snapshot_after_export", True)
    add("delete_snapshot_after_export", _boolean_problems(delete))

    export_only = raw.get("export_only")
    if "export_only" in raw:
        for field, reason in _export_only_problems(export_only):
            add(field, [reason])

    prefix = raw.get("s3_prefix", exports_area)
    if "s3_prefix" in raw:
        add(
            "s3_prefix",
            _string_problems(prefix) or _s3_prefix_problems(prefix)
            or _exports_area_problems(prefix, exports_area, lake_area=None if source_account else default_s3_prefix),
        )

    has_cluster, has_instance = "cluster_identifier" in raw, "db_instance_identifier" in raw
    has_arn = "snapshot_arn" in raw or "aws_backup_job" in raw
    named = [key for key, present in (("cluster_identifier", has_cluster), ("db_instance_identifier", has_instance), ("snapshot_arn", has_arn)) if present]
    if len(named) > 1:
        add("input", [f"give exactly one of cluster_identifier, db_instance_identifier or snapshot_arn, not {' and '.join(named)}"])
    elif not named:
        add(
            "input",
            [
                "give exactly one of cluster_identifier or db_instance_identifier (take a new snapshot) or snapshot_arn "
                "(export an existing snapshot); none was given"
            ],
        )
    has_source = has_cluster or has_instance
    if use_latest is True and has_arn:
        add(
            "use_latest_automated_snapshot",
            ["cannot be combined with snapshot_arn; it exports the newest automated snapshot of cluster_identifier or db_instance_identifier"],
        )
    elif use_latest is True and not has_source:
        add("use_latest_automated_snapshot", ["requires cluster_identifier or db_instance_identifier"])
    if direct is True and has_instance:
        add(
            "export_cluster_directly",
            ["cannot be used with db_instance_identifier: RDS exports a DB instance's data only from a snapshot "
             "(only Aurora clusters export directly); omit it to take a new snapshot"],
        )
    elif direct is True and has_arn:
        add("export_cluster_directly", ["cannot be combined with snapshot_arn; it exports the data of cluster_identifier itself"])
    elif direct is True and not has_cluster:
        add("export_cluster_directly", ["requires cluster_identifier"])
    if direct is True and use_latest is True:
        add("export_cluster_directly", ["cannot be combined with use_latest_automated_snapshot; choose the cluster's data or its newest automated snapshot"])
    if delete is True and "delete_snapshot_after_export" in raw and (has_arn or use_latest is True or direct is True):
        add(
            "delete_snapshot_after_export",
            [
                "can be true only when the execution takes a new snapshot; "
                "the workflow never deletes a snapshot it did not take (omit it or set false)"
            ],
        )

    if problems:
        raise invalid_input(problems)

    # Past this point every value has been checked and has its expected type.
    job_cluster: str | None = None
    job_instance: str | None = None
    if has_arn:
        assert isinstance(arn, str)
        pieces = arn.split(":", 6)
        name = pieces[6].lower()
        job_arn: str | None = arn[: len(arn) - len(name)] + name
        kind = _KIND_OF_SNAPSHOT_RESOURCE[pieces[5]]
        mode = "existing"
    else:
        name = None
        job_arn = None
        if has_cluster:
            assert isinstance(cluster, str)
            job_cluster, kind = cluster.lower(), CLUSTER_KIND
        else:
            assert isinstance(instance, str)
            job_instance, kind = instance.lower(), INSTANCE_KIND
        mode = "cluster" if direct is True else "latest_automated" if use_latest is True else "create"

    if source_account is not None:
        # Which of the organization's accounts and which of their databases: IAM and the opt-in tag
        # (checked before anything is created, opt_in.py); without an organization, none.
        if organization_id is None:
            raise AccountNotAllowed(str(Problem(
                "account_id" if is_account_id(account_id) else "snapshot_arn",
                f"{source_account!r} is not this deployment's account, and this lake takes no source accounts "
                "(parameter OrganizationId is empty)",
            )))
    elif job_cluster is not None:
        _refuse_unless_allowed(job_cluster, allowed_clusters, "cluster_identifier", "cluster", "AllowedClusterIdentifiers", ClusterNotAllowed)
    if job_instance is not None and source_account is None:
        _refuse_unless_allowed(
            job_instance, allowed_db_instances, "db_instance_identifier", "DB instance", "AllowedDBInstanceIdentifiers", DBInstanceNotAllowed
        )

    job = {
        "snapshot_mode": mode,
        "source_kind": kind,
        "source_identifier": job_cluster or job_instance,
        "cluster_identifier": job_cluster,
        "db_instance_identifier": job_instance,
        "snapshot_arn": job_arn,
        "snapshot_identifier": name,
        "export_only": list(export_only) if isinstance(export_only, list) else None,
        "s3_prefix": normalize_s3_prefix(prefix),
        "delete_snapshot_after_export": bool(delete) and mode == "create",
    }
    if source_account is not None:
        job["source_account"] = source_account
    return job


def refuse_unless_it_fits(job: dict[str, Any]) -> None:
    """InvalidInput when the job (the validated input and the names derived from it) would leave the
    run too little of Step Functions' 256 KiB per state: refused before anything is created."""
    size = limits.encoded_size(job)
    if size <= limits.JOB_MAX_BYTES:
        return
    export_only = job.get("export_only") or []
    field = "export_only" if limits.encoded_size(export_only) > size // 2 else "input"
    raise invalid_input([Problem(field, (
        f"the run would carry {size} bytes of this input in every state; at most {limits.JOB_MAX_BYTES} fit beside what "
        f"the run adds ({limits.RUN_STATE_MAX_BYTES} bytes) within Step Functions' {limits.STATE_LIMIT_BYTES} bytes per state: "
        "name databases or schemas in export_only instead of tables"
    ))])


def _refuse_unless_allowed(
    identifier: str, allowed: frozenset[str] | None, field: str, label: str, parameter: str, error: type[Exception], where: str = ""
) -> None:
    if allowed is None or identifier in {name.lower() for name in allowed}:
        return
    if allowed:
        reason = f"{identifier!r} is not a {label}{where} this deployment may export (parameter {parameter})"
    else:
        reason = f"{identifier!r} cannot be exported: this deployment allows no {label}s{where} (parameter {parameter})"
    raise error(str(Problem(field, reason)))


# --- reporting ------------------------------------------------------------------


def invalid_input(problems: list[Problem]) -> InvalidInput:
    """InvalidInput listing ``problems`` ordered by field: at most MAX_LISTED_PROBLEMS of them, and
    no more than fit in a step's Cause (``limits.ERROR_MESSAGE_MAX_BYTES``); one line counts the rest."""
    ordered = sorted(problems, key=_sort_key)
    lines = [str(problem) for problem in ordered[:MAX_LISTED_PROBLEMS]]

    def message(shown: int) -> str:
        rest = len(ordered) - shown
        return "\n".join(lines[:shown] + ([f"input: {rest} more problems not listed"] if rest else []))

    shown = len(lines)
    while shown > 1 and limits.cut_text(message(shown), limits.ERROR_MESSAGE_MAX_BYTES, encodings=2) != message(shown):
        shown -= 1
    error = InvalidInput(message(shown))
    error.problems = ordered  # type: ignore[attr-defined]  # the full list, for callers and tests
    return error


def _sort_key(problem: Problem) -> tuple[int, str, int]:
    # "input" first; "export_only" before "export_only[0]" before "export_only[10]". Python's
    # sort is stable, so problems of one field keep the order in which they were found.
    base, _, index = problem.field.partition("[")
    number = int(index.rstrip("]")) if index.rstrip("]").isdigit() else -1
    return (0 if base == "input" else 1, base, number)


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type (``object``, ``array``, ``string``, ...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):  # before int: bool is a subclass of int
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _show(value: object, limit: int = 60) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _field_name(key: object) -> str:
    return key if isinstance(key, str) and _PLAIN_KEY.fullmatch(key) else _show(key, 40)


def _top_level_reason(raw: object) -> str:
    reason = f"must be a JSON object, got {json_type(raw)}"
    if isinstance(raw, str) and raw.lstrip().startswith("{"):
        try:
            json.loads(raw)
        except ValueError:
            pass
        else:
            reason += " holding JSON (was the input encoded twice?)"
    return reason


def _unknown_key_reason(key: object) -> str:
    text = key if isinstance(key, str) else str(key)

    def squash(text: str) -> str:
        return re.sub(r"[^a-z0-9]", "", text.lower())

    # Catch case and separator slips (ClusterIdentifier, export-only) before spelling slips.
    for known in KNOWN_KEYS:
        if squash(text) == squash(known):
            return f"unknown key; did you mean {known}?"
    close = difflib.get_close_matches(text.lower(), KNOWN_KEYS, n=1, cutoff=0.7)
    if close:
        return f"unknown key; did you mean {close[0]}?"
    return "unknown key; allowed keys are " + ", ".join(KNOWN_KEYS)


# --- field rules ----------------------------------------------------------------


def _string_problems(value: object) -> list[str]:
    if isinstance(value, str):
        return []
    return [f"must be a string, got {json_type(value)}"]


def _boolean_problems(value: object) -> list[str]:
    if value is True or value is False:
        return []
    reason = f"must be a JSON boolean (true or false), got {json_type(value)}"
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        reason += f" {_show(value)}; write it without quotes"
    return [reason]


def _cluster_identifier_problems(value: object) -> list[str]:
    return _string_problems(value) or identifier_problems(value, CLUSTER_IDENTIFIER_MAX_LENGTH)  # type: ignore[arg-type]


_ARN_FORM = "arn:PARTITION:rds:REGION:ACCOUNT:cluster-snapshot:NAME (or snapshot:NAME for a DB instance)"


def _account_id_problems(value: object) -> list[str]:
    if not isinstance(value, str):
        return _string_problems(value)
    if not is_account_id(value):
        return [f"must be a 12-digit AWS account ID (ASCII digits only), got {_show(value)}"]
    return []


def _event_account_problems(value: object, triggered: bool, snapshot_account: str) -> list[str]:
    """An event's account must be the snapshot's own: one account's events never start another's exports."""
    if not triggered:
        return ["is set only by the stack's event rules, together with trigger"]
    problems = _account_id_problems(value)
    if problems:
        return problems
    if value != snapshot_account:
        return [
            f"an event of account {value} names a snapshot of account {snapshot_account}; refused: "
            "an account's events may start exports of its own snapshots only"
        ]
    return []


def _snapshot_arn_problems(value: object, *, region: str, account: str, partition: str, organization: bool = False) -> list[str]:
    if not isinstance(value, str):
        return _string_problems(value)
    if not value:
        return ["must not be empty"]
    pieces = value.split(":", 6)
    if pieces[0] != "arn" or len(pieces) < 6:
        return [f"must be a cluster snapshot ARN of the form {_ARN_FORM}, got {_show(value)}"]
    _, arn_partition, service, arn_region, arn_account, resource_type = pieces[:6]
    name = pieces[6] if len(pieces) == 7 else None
    problems: list[str] = []
    if arn_partition != partition:
        problems.append(f"partition {_show(arn_partition)} is not this deployment's partition {_show(partition)}")
    if service != "rds":
        problems.append(f"service {_show(service)} is not rds; give an RDS snapshot ARN ({_ARN_FORM})")
    if arn_region != region:
        problems.append(
            f"Region {_show(arn_region)} is not this deployment's Region {_show(region)}; "
            "a snapshot is exported in its own Region, so copy it here first"
        )
    if not is_account_id(arn_account):
        problems.append(f"account {_show(arn_account)} is not a 12-digit AWS account ID")
    elif arn_account != account and not organization:
        problems.append(
            f"account {_show(arn_account)} is not this deployment's account {_show(account)}, and this lake takes no "
            "source accounts (parameter OrganizationId is empty); copy the snapshot into this account first"
        )
    if resource_type not in _KIND_OF_SNAPSHOT_RESOURCE:
        problems.append(f"resource type {_show(resource_type)} is neither cluster-snapshot nor snapshot ({_ARN_FORM})")
    if not name:
        problems.append(f"has no snapshot name after {_show(resource_type)}: ({_ARN_FORM})")
    elif resource_type in ("cluster-snapshot", "snapshot"):
        problems.extend(f"snapshot name {reason}" for reason in snapshot_name_problems(name))
    return problems


# AWS Backup's resource type of each kind of source, and the ARN resource type of its recovery points.
AWS_BACKUP_RESOURCE_TYPES = {"Aurora": CLUSTER_SNAPSHOT_RESOURCE, "RDS": DB_SNAPSHOT_RESOURCE}
AWS_BACKUP_RESOURCE_TYPE = "Aurora"
AWS_BACKUP_COMPLETED = "COMPLETED"


def _aws_backup_job_problems(
    value: object, *, region: str, account: str, partition: str, organization: bool = False
) -> tuple[str | None, list[Problem]]:
    """The recovery point ARN of a "Backup Job State Change" event's detail, and its problems."""
    if not isinstance(value, dict):
        return None, [Problem("aws_backup_job", f"must be the detail object of an AWS Backup job event, got {json_type(value)}")]
    problems: list[Problem] = []
    resource_type, state = value.get("resourceType"), value.get("state")
    if resource_type not in AWS_BACKUP_RESOURCE_TYPES:
        problems.append(
            Problem("aws_backup_job.resourceType", f"must be 'Aurora' (an Aurora cluster's backup) or 'RDS' (a DB instance's), got {_show(resource_type)}")
        )
    if state != AWS_BACKUP_COMPLETED:
        problems.append(Problem("aws_backup_job.state", f"must be {AWS_BACKUP_COMPLETED!r}: only a finished backup can be exported, got {_show(state)}"))
    arn = value.get("recoveryPointArn")
    if "recoveryPointArn" not in value:
        # UNCONFIRMED that the event names the recovery point: if it does not, every triggered run says so here.
        problems.append(Problem("aws_backup_job.recoveryPointArn", "is missing: the event does not name the recovery point to export"))
    else:
        arn_problems = _snapshot_arn_problems(arn, region=region, account=account, partition=partition, organization=organization)
        problems.extend(Problem("aws_backup_job.recoveryPointArn", reason) for reason in arn_problems)
        expected = AWS_BACKUP_RESOURCE_TYPES.get(resource_type) if isinstance(resource_type, str) else None
        if not arn_problems and expected and arn.split(":", 6)[5] != expected:
            problems.append(Problem("aws_backup_job.recoveryPointArn", f"is not a {expected} ARN, as a {resource_type} backup's recovery point is"))
    return (arn if isinstance(arn, str) and not problems else None), problems


def _export_only_problems(value: object) -> list[tuple[str, str]]:
    if not isinstance(value, list):
        hint = "; put even a single name in a list" if isinstance(value, str) else ""
        return [("export_only", f"must be an array of strings, got {json_type(value)}{hint}")]
    if not value:
        return [("export_only", "must name at least one database or table; omit export_only to export everything")]
    problems: list[tuple[str, str]] = []
    size = len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8"))
    if size > EXPORT_ONLY_MAX_BYTES:
        problems.append(
            ("export_only", f"is {size} bytes as JSON; StartExportTask accepts at most 200 KB ({EXPORT_ONLY_MAX_BYTES} bytes)")
        )
    first_seen: dict[str, int] = {}
    for index, entry in enumerate(value):
        field = f"export_only[{index}]"
        if not isinstance(entry, str):
            problems.append((field, f"must be a string, got {json_type(entry)}"))
            continue
        for reason in _export_only_entry_problems(entry):
            problems.append((field, reason))
        if entry in first_seen:
            problems.append((field, f"duplicates export_only[{first_seen[entry]}] ({_show(entry)})"))
        else:
            first_seen[entry] = index
    return problems


def _export_only_entry_problems(entry: str) -> list[str]:
    if not entry:
        return ["must not be empty"]
    problems: list[str] = []
    parts = entry.split(".")
    if len(parts) > 3:
        problems.append(
            f"{_show(entry)} has {len(parts)} dot-separated parts; use database, database.table, "
            "database.schema or database.schema.table"
        )
    if any(not part for part in parts):
        problems.append(f"{_show(entry)} has an empty name part (a leading, trailing or doubled dot)")
    illegal = sorted(set(_EXPORT_ONLY_ILLEGAL.findall(entry)), key=entry.index)
    if illegal:
        problems.append(
            f"{_show(entry)} may hold only Latin letters, digits, '$' and '_' in each name (found {describe_characters(illegal)}); "
            "RDS exports only tables whose names use these"
        )
    return problems


def _exports_area_problems(prefix: str, area: str, lake_area: str | None = None) -> list[str]:
    """A given prefix must lie in the exports area, and no folder below it may be an export's own.

    Every export is written to ``PREFIX<export task identifier>/``. A folder below the area
    that could be an export task identifier could be another export's folder, and this
    export would land inside it; folders holding ``_``, ``.`` or ``=``, or beginning with a
    digit, never are. The area itself lies outside the stack's own folders (checked with
    the deployment's default).
    """
    prefix, area = normalize_s3_prefix(prefix), normalize_s3_prefix(area)
    if not prefix.startswith(area):
        return [f"must be {area} or a folder below it (the exports area: the only folder exports may be written to)"]
    if lake_area is not None and prefix.startswith(normalize_s3_prefix(lake_area) + SOURCE_ACCOUNTS_FOLDER):
        # ``lake_area`` is given for the lake's own exports: the source accounts' folders are never theirs.
        return [f"must not be {normalize_s3_prefix(lake_area) + SOURCE_ACCOUNTS_FOLDER} or a folder in it: it holds the source accounts' exports"]
    risky = [segment for segment in prefix[len(area):].split("/") if segment and could_be_export_folder(segment)]
    return [
        f"folder {segment!r} could be another export's own folder (its name is a valid export task identifier); "
        "use a name holding '_', '.' or '=', or beginning with a digit (e.g. 2026-11 or adhoc_1)"
        for segment in risky
    ]


def _s3_prefix_problems(prefix: str) -> list[str]:
    if not prefix:
        return ["must not be empty (the bucket root is not an export location); omit s3_prefix to use the default"]
    problems: list[str] = []
    if ":" in prefix:
        problems.append("must not contain ':' (StartExportTask refuses it)")
    if prefix.startswith("/"):
        problems.append("must not begin with '/'")
    if "//" in prefix:
        problems.append("must not contain empty path segments ('//')")
    if any(segment in (".", "..") for segment in prefix.split("/")):
        problems.append("must not contain '.' or '..' path segments")
    illegal = [ch for ch in dict.fromkeys(_S3_PREFIX_ILLEGAL.findall(prefix)) if ch != ":"]
    if illegal:
        problems.append(f"may contain only ASCII letters, digits and - _ . / = (found {describe_characters(illegal)})")
    normalised = normalize_s3_prefix(prefix)
    if len(normalised) > S3_PREFIX_MAX_LENGTH:
        problems.append(f"must be at most {S3_PREFIX_MAX_LENGTH} characters (got {len(normalised)})")
    return problems


__all__ = [
    "AUTOMATED_SNAPSHOT_PREFIX",
    "EXPORT_ONLY_MAX_BYTES",
    "KNOWN_KEYS",
    "MAX_LISTED_PROBLEMS",
    "Problem",
    "S3_PREFIX_MAX_LENGTH",
    "SNAPSHOT_MODES",
    "invalid_input",
    "json_type",
    "refuse_unless_it_fits",
    "validate_execution_input",
]
