"""Waking an export wait early when RDS announces that an export ended.

The state machine's export wait leaves its task token in the bucket, under the
export task's identifier, and waits until the next status check. When RDS
reports that an export of an allowed source ended (EventBridge, rule
ExportFinishedRule), the tasks of that source are looked up and every wait
this stack left a token for gets it back with SendTaskSuccess. The run then
checks the export's status in RDS as it would after the full wait: the event
decides when the run looks, never what it finds.

RDS events are best effort. What each case costs:

* no event, or one that arrives after the wait ended: nothing, the poll
  notices the end as it would without events;
* a duplicate: the token was already used, Step Functions refuses it
  (TaskTimedOut, TaskDoesNotExist or InvalidToken) and nothing happens;
* an event for an export that has not ended (early, out of order): one
  extra status check, which sees the export still running;
* an export of an allowed source that no run of this stack waits for (another
  stack's, or a user's): no token, nothing to wake; a task whose identifier no
  run of this stack could have given (too long, other characters) is skipped
  without a look.

The wait leaves a JSON object (``task_token``, ``export_task_identifier``,
``execution``): Step Functions' ``aws-sdk:s3:putObject`` stores a Body as its
JSON text, so even a bare token string would be stored with its quotes. A body
that is not exactly that object, or names another export task, is never sent
to Step Functions: it is logged (never its token), counted, and the event fails.

Events of source accounts reach the lake's bus too (their forwarding rules, the bus policy taking
the organization's accounts only): the event's ``account`` says where the export ran, and so where
its tasks are described (through that account's access role) and under which key its waits left
their tokens (``export-waits/<stack>/<account>/<export id>``: export task identifiers are unique
per account only, so one account's event never wakes another's wait). An event of another account
when the lake has no organization, or whose source ARN is of another account than the event's, is
ignored and counted (``ignored_account``): no account's events ever make the lake look into
another account.

Anything else (access denied, a throttled or broken service) raises: Lambda
retries the event and then keeps it in the dead-letter queue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from aurora_lake import naming, settings
from aurora_lake.clients import client
from aurora_lake.errors import error_code
from aurora_lake.observability import logger

# RDS-EVENT ids of an export's end ("Amazon RDS event categories and event messages"): of a DB
# snapshot export (DB snapshot events 0159 failed, 0160 canceled, 0161 completed), of a cluster
# snapshot export (DB cluster snapshot events) and of a direct export of a DB cluster (DB cluster events).
DB_SNAPSHOT_EXPORT_FINISHED_EVENT_IDS = frozenset({"RDS-EVENT-0159", "RDS-EVENT-0160", "RDS-EVENT-0161"})
EXPORT_FINISHED_EVENT_IDS = frozenset(
    {"RDS-EVENT-0162", "RDS-EVENT-0163", "RDS-EVENT-0164", "RDS-EVENT-0234", "RDS-EVENT-0235", "RDS-EVENT-0236"}
) | DB_SNAPSHOT_EXPORT_FINISHED_EVENT_IDS
# SendTaskSuccess errors of a token that can no longer wake anything (wire codes, botocore's
# stepfunctions model): the wait already ended, or the execution did.
SPENT_TOKEN_CODES = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
# Nothing goes back into the run: the wait's ResultPath discards it.
WAKE_OUTPUT = "{}"


# The fields of the object WaitForExport leaves (its Parameters.Body in the state machine).
WAIT_TOKEN_FIELDS = ("task_token", "export_task_identifier", "execution")


class UnexpectedExportEvent(ValueError):
    """The event is not an RDS export-finished event (the rule should never deliver one)."""


class UnreadableWaitToken(ValueError):
    """A body under a wait's key that is not the object WaitForExport leaves."""


@dataclass(frozen=True)
class WaitToken:
    task_token: str
    export_task_identifier: str
    execution: str


def read_wait_token(body: bytes, export_task_identifier: str) -> WaitToken:
    """The wait's token object from the stored body (JSON text); the message never holds the token."""
    what = f"the wait token of export task {export_task_identifier} ({len(body)} bytes)"
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise UnreadableWaitToken(f"{what} is not JSON text: {type(error).__name__}") from None
    if not isinstance(parsed, dict):
        raise UnreadableWaitToken(f"{what} is a JSON {type(parsed).__name__}, not an object with {', '.join(WAIT_TOKEN_FIELDS)}")
    if sorted(parsed) != sorted(WAIT_TOKEN_FIELDS):
        raise UnreadableWaitToken(f"{what} has the fields {sorted(parsed)[:10]}, not {', '.join(WAIT_TOKEN_FIELDS)}")
    empty = [name for name in WAIT_TOKEN_FIELDS if not isinstance(parsed[name], str) or not parsed[name]]
    if empty:
        raise UnreadableWaitToken(f"{what}: {', '.join(empty)} must be non-empty strings")
    if parsed["export_task_identifier"] != export_task_identifier:
        raise UnreadableWaitToken(f"{what} names another export task: {parsed['export_task_identifier'][:80]!r}")
    return WaitToken(**parsed)


def finished_source_arn(event: dict[str, Any]) -> str:
    """The ARN of the exported source (snapshot or cluster) an export-finished event names."""
    detail = event.get("detail") if isinstance(event, dict) else None
    if event.get("source") != "aws.rds" or not isinstance(detail, dict):
        raise UnexpectedExportEvent(f"not an RDS event: source {event.get('source')!r}")
    event_id = detail.get("EventID")
    if event_id not in EXPORT_FINISHED_EVENT_IDS:
        raise UnexpectedExportEvent(f"RDS event {event_id!r} does not announce the end of an export")
    source_arn = detail.get("SourceArn")
    if not isinstance(source_arn, str) or not source_arn.startswith("arn:"):
        raise UnexpectedExportEvent(f"RDS event {event_id} names no source ARN (SourceArn {source_arn!r})")
    return source_arn


def export_tasks_of(source_arn: str, account: str | None = None) -> list[str]:
    """Identifiers of every export task of ``source_arn`` that RDS knows (in ``account``; None: the lake's own)."""
    paginator = client("rds", account=account).get_paginator("describe_export_tasks")
    return [
        task["ExportTaskIdentifier"]
        for page in paginator.paginate(SourceArn=source_arn)
        for task in page.get("ExportTasks", [])
        if task.get("SourceArn") == source_arn
    ]


def is_ours_possibly(identifier: Any) -> bool:
    """Whether an export task's identifier is one a run of this stack could have given (a valid identifier).

    Other people's tasks of the same source may be named anything RDS accepts (or, for all
    this code knows, longer): they are skipped, never fatal, and never looked up in S3.
    """
    return isinstance(identifier, str) and not naming.identifier_problems(identifier, naming.EXPORT_TASK_IDENTIFIER_MAX_LENGTH)


def waiting_token(bucket: str, key: str, export_task_identifier: str) -> WaitToken | None:
    """The token a wait left at ``key``, or None when no run of this stack waits there."""
    try:
        found = client("s3").get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error_code(error) in {"NoSuchKey", "404"}:
            return None
        raise
    return read_wait_token(found["Body"].read(), export_task_identifier)


def wake(token: str) -> bool:
    """Hand the token back; False when it can no longer wake anything."""
    try:
        client("stepfunctions").send_task_success(taskToken=token, output=WAKE_OUTPUT)
    except ClientError as error:
        if error_code(error) in SPENT_TOKEN_CODES:
            return False
        raise
    return True


def rds_account_of(event: dict[str, Any], source_arn: str, lake_account: str | None) -> tuple[str | None, str | None]:
    """(where the export ran: None for the lake's own account or a source account, why the event is ignored or None).

    An event without ``account`` is the lake's own (the lake's rules match its own account's events).
    """
    account = event.get("account")
    if account is None or account == lake_account:
        return None, None
    if not naming.is_account_id(account):
        return None, f"account {str(account)[:40]!r} is not a 12-digit account ID"
    if settings.organization_id() is None:
        return None, f"account {account} is not the lake's own, and the lake takes no source accounts (OrganizationId is empty)"
    arn_account = source_arn.split(":")[4] if len(source_arn.split(":")) > 5 else None
    if arn_account != account:
        return None, f"an event of account {account} names an export source of account {str(arn_account)[:40]!r}"
    return account, None


def wake_waits_for(event: dict[str, Any], lake_account: str | None = None) -> dict[str, Any]:
    """Wake every wait of this stack on an export of the event's source (``lake_account``: the lake's own account)."""
    source_arn = finished_source_arn(event)
    account, ignored = rds_account_of(event, source_arn, lake_account)
    if ignored:
        logger.warning("export event of another account ignored", extra={"reason": ignored})
        return {"event_id": event["detail"]["EventID"], "source_arn": source_arn, "woken": [], "spent": [], "not_waiting": [],
                "foreign": 0, "unreadable": [], "ignored_account": ignored}
    bucket = settings.required("EXPORT_BUCKET")
    prefix = settings.required("EXPORT_WAIT_TOKEN_PREFIX")
    woken: list[str] = []
    spent: list[str] = []
    not_waiting: list[str] = []
    foreign = 0
    unreadable: list[str] = []
    try:
        identifiers = export_tasks_of(source_arn, account)
    except ClientError as error:
        if account is None or error_code(error) != "AccessDenied" or error.operation_name != "AssumeRole":
            raise
        # An account of the organization the lake's stack set has not reached (no access role of
        # this lake there): none of this lake's exports run there, so none of its waits do.
        reason = f"account {account} has no access role this lake may assume: no export of this lake runs there"
        logger.warning("export event of another account ignored", extra={"reason": reason})
        return {"event_id": event["detail"]["EventID"], "source_arn": source_arn, "woken": [], "spent": [], "not_waiting": [],
                "foreign": 0, "unreadable": [], "ignored_account": reason}
    # Where this lake's exports of that account leave their tokens; the lake's own exports also
    # before keys carried the account (read as the lake account's).
    rds_account = account or lake_account
    for identifier in identifiers:
        if not is_ours_possibly(identifier):
            foreign += 1  # no run of this stack names a task so: nothing of ours waits for it
            continue
        keys = [naming.export_wait_token_key(prefix, identifier, rds_account)] if rds_account else []
        if account is None:
            keys.append(naming.export_wait_token_key(prefix, identifier))
        key = keys[0]
        try:
            token = None
            for key in keys:
                token = waiting_token(bucket, key, identifier)
                if token is not None:
                    break
        except UnreadableWaitToken as error:
            # The other waits are still woken; the caller fails the event afterwards.
            logger.error("unreadable export wait token", extra={"key": key, "cause": str(error)})
            unreadable.append(identifier)
            continue
        if token is None:
            not_waiting.append(identifier)
        elif wake(token.task_token):
            logger.info("export wait woken", extra={"export_task_identifier": identifier, "execution": token.execution})
            woken.append(identifier)
        else:
            spent.append(identifier)
    return {
        "event_id": event["detail"]["EventID"],
        "source_arn": source_arn,
        "woken": woken,
        "spent": spent,
        "not_waiting": not_waiting,
        "foreign": foreign,
        "unreadable": unreadable,
    }
