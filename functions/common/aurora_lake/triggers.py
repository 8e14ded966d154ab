"""Starts from the stack's event rules: which this deployment acts on, and the one router that starts them.

Every snapshot-created and AWS Backup rule (the lake's own, and those that take the source
accounts' forwarded events) targets one function, the trigger router (``route``). It builds the
export's input from the event, checks it exactly as the export's ValidateInput does, decides
whether this deployment exports that snapshot, and starts the export under a name derived from
the snapshot's ARN: one recovery point starts one run, whichever events arrive and however often.

The rules follow every cluster and DB instance of the account and Region (an event pattern
cannot hold every allowed source, nor tell an AWS Backup recovery point's source). A snapshot this
deployment does not export is therefore expected, not a failure: it is logged and counted (metric
``TriggersIgnored``) and starts nothing. The same snapshot named in a start by hand still fails
with ClusterNotAllowed (DBInstanceNotAllowed, SourceNotOptedIn). The export's own ValidateInput
keeps the same checks (``reason_to_ignore``, opt_in.job_refusal) for an input with ``trigger``
started by anyone else.

Events of source accounts reach the lake's bus through their forwarding rules; the router adds
the account the event came from (``event_account``) to every event not of the lake's account, and
the input schema refuses, loudly, an event of one account about another account's snapshot. A
source account's snapshot that did not opt in (opt_in.py: the source's or the snapshot's own tag,
read through the account's access role), or that the lake took itself, starts nothing, like the
lake's own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from aurora_lake import naming
from aurora_lake.observability import MetricUnit, logger, metrics
from aurora_lake.sources import CLUSTER, Source

IGNORED_METRIC = "TriggersIgnored"


def reason_to_ignore(job: Mapping[str, Any], allowed: Iterable[str] | None, source: Source = CLUSTER) -> str | None:
    """Why a triggered start is not for this deployment, from the snapshot's name alone (or None).

    ``allowed`` lists the sources of ``source``'s kind this deployment may export.
    """
    if not job.get("trigger"):
        return None
    if source.account is not None:
        return None  # a source account's snapshots are judged by their tags (opt_in.job_refusal)
    if allowed is None:
        return None
    clusters = sorted(allowed)
    name = job.get("snapshot_identifier") or ""
    if not name or name.startswith(naming.AWS_BACKUP_SNAPSHOT_PREFIX):
        return None  # a recovery point's cluster is read from RDS (CheckSnapshot)
    if naming.is_own_snapshot(name, clusters):
        return f"snapshot {name} was taken by this workflow: its export is already under way"
    if not naming.named_after_one_of(name, clusters):
        return f"snapshot {name} is not of a {source.label} this deployment may export ({source.allowed_parameter})"
    return None


def ignored(job: Mapping[str, Any], reason: str) -> dict[str, Any]:
    """Log and count the start, and return what the state machine ends on."""
    logger.info("trigger ignored", extra={"trigger": job.get("trigger"), "reason": reason})
    metrics.add_metric(name=IGNORED_METRIC, unit=MetricUnit.Count, value=1)
    return {"ignored": reason}


# --- the trigger router: one function between every snapshot event rule and the export -------

SNAPSHOT_EVENT, AWS_BACKUP = "snapshot-event", "aws-backup"
STARTED_METRIC = "TriggersStarted"
ALREADY_STARTED_METRIC = "TriggersAlreadyStarted"
# StartExecution's wire code for a name already used (botocore's stepfunctions model).
EXECUTION_ALREADY_EXISTS = "ExecutionAlreadyExists"
_SNAPSHOT_DETAIL_TYPES = ("RDS DB Cluster Snapshot Event", "RDS DB Snapshot Event")
_BACKUP_DETAIL_TYPE = "Backup Job State Change"


def export_input(event: Mapping[str, Any], lake_account: str) -> dict[str, Any]:
    """The export's input for a snapshot-created or AWS Backup event, as the rules' input transformers built it.

    RDS's event gives the snapshot's ARN; AWS Backup's its whole job detail (validation reads the
    recovery point from it). An event from another account than the lake's carries that account
    (``event_account``): validation refuses one account's event about another account's snapshot.
    Raises InvalidTriggerEvent for anything else (the rules let only these through).
    """
    from aurora_lake.errors import InvalidTriggerEvent

    if not isinstance(event, Mapping):
        raise InvalidTriggerEvent("the event is not a JSON object")
    detail, detail_type, source = event.get("detail"), event.get("detail-type"), event.get("source")
    if not isinstance(detail, Mapping):
        raise InvalidTriggerEvent(f"the event has no detail object (detail-type {str(detail_type)[:80]!r})")
    if source == "aws.rds" and detail_type in _SNAPSHOT_DETAIL_TYPES:
        arn = detail.get("SourceArn")
        if not isinstance(arn, str):
            raise InvalidTriggerEvent("the RDS snapshot event names no SourceArn")
        built: dict[str, Any] = {"snapshot_arn": arn, "trigger": SNAPSHOT_EVENT}
    elif source == "aws.backup" and detail_type == _BACKUP_DETAIL_TYPE:
        built = {"aws_backup_job": dict(detail), "trigger": AWS_BACKUP}
    else:
        raise InvalidTriggerEvent(f"not a snapshot-created or AWS Backup job event: source {str(source)[:40]!r}, detail-type {str(detail_type)[:80]!r}")
    account = event.get("account")
    if account != lake_account:
        built["event_account"] = account
    return built


def snapshot_arn_of(execution_input: Mapping[str, Any]) -> str:
    """The snapshot (or recovery point) an export input names."""
    job = execution_input.get("aws_backup_job")
    arn = job.get("recoveryPointArn") if isinstance(job, Mapping) else execution_input.get("snapshot_arn")
    return str(arn)


def route(event: Mapping[str, Any], *, state_machine_arn: str, start: Any) -> dict[str, Any]:
    """Decide whether this deployment exports the event's snapshot, and start its one execution.

    ``start(name, input_text)`` calls StartExecution. The input is checked exactly as the export's
    ValidateInput checks it: a malformed or forged event raises (InvalidInput or
    InvalidTriggerEvent), so EventBridge's and Lambda's retries end in the dead-letter queue and its
    alarm, never in silence. A snapshot this deployment does not export starts nothing (logged,
    metric TriggersIgnored). Every event about one snapshot names the same execution
    (``naming.trigger_execution_name``): the first starts it, the others find it
    (ExecutionAlreadyExists: metric TriggersAlreadyStarted).
    """
    from botocore.exceptions import ClientError

    from aurora_lake import sources
    from aurora_lake.errors import error_code
    from aurora_lake.input_schema import validate_for_deployment

    machine = naming.parse_state_machine_arn(state_machine_arn)
    execution_input = export_input(event, machine.account)
    job = validate_for_deployment(execution_input, machine.region, machine.account, machine.partition)
    job["trigger"] = execution_input["trigger"]
    source = sources.of_job(job)
    reason = reason_to_ignore(job, source.allowed(), source) or source.opt_in_refusal(job)
    if reason:
        return ignored(job, reason)
    name = naming.trigger_execution_name(snapshot_arn_of(execution_input))
    try:
        execution_arn = start(name, json.dumps(execution_input, separators=(",", ":")))
    except ClientError as error:
        if error_code(error) != EXECUTION_ALREADY_EXISTS:
            raise
        logger.info("trigger already started", extra={"trigger": job["trigger"], "execution_name": name})
        metrics.add_metric(name=ALREADY_STARTED_METRIC, unit=MetricUnit.Count, value=1)
        return {"already_started": name}
    logger.info("trigger started", extra={"trigger": job["trigger"], "execution_name": name})
    metrics.add_metric(name=STARTED_METRIC, unit=MetricUnit.Count, value=1)
    return {"execution_arn": execution_arn, "execution_name": name}
