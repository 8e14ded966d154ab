"""The fleet's own steps: plan the run (ValidateFleetInput), record a source that was not exported,
and summarize the run from its results in S3 (NotifyFleetSummary). See aurora_lake/fleet.py."""

from __future__ import annotations

import json
from typing import Any

from aurora_lake import clock, fleet, freshness, inventory, naming, notifications, settings
from aurora_lake.clients import client
from aurora_lake.handler import step_handler
from aurora_lake.observability import MetricUnit, metrics

# The state machine's Choice and Fail states read these: any source not exported fails the run.
SUMMARY_KEYS = ("status", "failed", "error", "cause")


def plan(event: dict[str, Any]) -> dict[str, Any]:
    """Check the input, write the accounts' items to S3, keep only their key and counts in the state."""
    machine = naming.parse_state_machine_arn(event["state_machine_arn"])
    name = event["execution_name"]
    planned = fleet.validate_fleet_input(
        event.get("input"),
        region=machine.region,
        account=machine.account,
        partition=machine.partition,
        default_s3_prefix=settings.optional("DEFAULT_S3_PREFIX", "exports/"),
        execution_name=name,
        max_concurrency=int(settings.optional("FLEET_MAX_CONCURRENCY", "2")),
        max_accounts=int(settings.optional("FLEET_MAX_ACCOUNTS", "0")),
        discovery=lambda: discover(machine.account),
    )
    bucket = settings.required("EXPORT_BUCKET")
    found = planned.pop("discovery")
    if found is not None:
        due = None if planned["report_only"] else {str(item["account_id"]): len(item["sources"]) for item in planned["accounts"]
                                                   if not item["lake_account"] and isinstance(item.get("sources"), list)}
        planned["sources_report_key"] = write_sources_report(found, name, due)
    if planned["report_only"]:
        return {"fleet": planned, "execution_arn": event["execution_arn"], "execution_name": name}
    key = naming.fleet_accounts_key(name)
    # Written again unchanged on a retry or redrive: the items depend only on the input and the name.
    client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(planned.pop("accounts"), separators=(",", ":")).encode(),
                            ContentType="application/json")
    planned.update(accounts_key=key, started_epoch=clock.now(), region=machine.region)
    return {"fleet": planned, "execution_arn": event["execution_arn"], "execution_name": name}


def discover(lake_account: str) -> tuple[inventory.Discovery, Any]:
    """Every account's sources now, and which of them this scheduled run exports (a weekly source once
    its last success is a week old: its freshness marker)."""
    found = inventory.discover(lake_account)
    weekly = [freshness.SourceRef(a.account, s.kind, s.identifier) for a in found.reached() for s in a.sources if s.schedule == inventory.WEEKLY]
    last = freshness.last_successes(client("s3"), settings.required("EXPORT_BUCKET"), weekly) if weekly else {}
    now = clock.now()

    def is_due(source: inventory.KnownSource, account: str) -> bool:
        return inventory.due(source, last.get(freshness.SourceRef(account, source.kind, source.identifier)), now)

    return found, is_due


def write_sources_report(found: inventory.Discovery, execution_name: str, due: dict[str, int] | None = None) -> str:
    """``reports/sources/latest.json`` and its dated copy (``due``: sources due in each account this run); returns the latest's key."""
    now = clock.now()
    document = inventory.sources_report(found, now, execution_name, due)
    s3, bucket = client("s3"), settings.required("EXPORT_BUCKET")
    _put_json(s3, bucket, naming.sources_report_key(now, execution_name), document)
    _put_json(s3, bucket, naming.SOURCES_REPORT_KEY, document)
    return naming.SOURCES_REPORT_KEY


def summarize(state: dict[str, Any]) -> dict[str, Any]:
    """Read every account's outcomes, write the report (and, for a scheduled run, freshness), e-mail."""
    fleet_state = dict(state.get("fleet") or {})
    name = str(state.get("execution_name"))
    bucket = settings.required("EXPORT_BUCKET")
    s3 = client("s3")
    map_error = state.get("map_error") if isinstance(state.get("map_error"), dict) else None
    results = fleet.read_results(s3, bucket, name, state.get("map_run"), settings.optional("EXPORT_STATE_MACHINE_ARN", "") or None, map_error)
    now = clock.now()
    stale_sources, checked = None, 0
    hours = settings.seconds("FRESHNESS_ALARM_HOURS", 0)
    if fleet_state.get("scheduled") and hours > 0:
        # Every source the run knew (exported, or discovered and not due this time), with its schedule.
        schedules = {freshness.SourceRef(o.account, o.kind, o.identifier): inventory.DAILY for o in results.outcomes}
        schedules.update({freshness.SourceRef(*ref): schedule for ref, schedule in fleet.planned_schedules(_planned_items(s3, bucket, fleet_state)).items()})
        checked_sources = [ref for ref, schedule in schedules.items() if schedule != inventory.MANUAL]
        last = freshness.last_successes(s3, bucket, checked_sources)
        stale_sources = freshness.stale(last, now, hours, hours_of=lambda ref: inventory.stale_after_hours(schedules[ref], hours))
        checked = len(last)
        _put_json(s3, bucket, naming.FRESHNESS_REPORT_KEY, freshness.report(stale_sources, checked, hours, now, name))
        metrics.add_metric(name=freshness.STALE_METRIC, unit=MetricUnit.Count, value=len(stale_sources))
    report_key = naming.fleet_report_key(name)
    _put_json(s3, bucket, report_key, fleet.report(results, fleet=fleet_state, execution_arn=state.get("execution_arn"),
                                                  execution_name=name, finished_at=now, stale_sources=stale_sources, map_error=map_error))
    fleet_state.update(glue_database=settings.optional("GLUE_DATABASE", ""), freshness_hours=hours)
    notification = notifications.fleet_message(
        results, fleet=fleet_state, execution_arn=state.get("execution_arn"), execution_name=name,
        report_uri=f"s3://{bucket}/{report_key}", now=now, stale_sources=stale_sources, stale_checked=checked, map_error=map_error,
    )
    response = client("sns").publish(
        TopicArn=settings.required("TOPIC_ARN"), Subject=notification["subject"], Message=notification["message"],
        MessageAttributes=notification["attributes"],
    )
    return {"message_id": str(response["MessageId"]), "report_key": report_key,
            "stale_sources": None if stale_sources is None else len(stale_sources), **{key: notification[key] for key in SUMMARY_KEYS}}


def _planned_items(s3: Any, bucket: str, fleet_state: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's items as the plan wrote them (accounts.json): the discovered sources' schedules."""
    key = fleet_state.get("accounts_key")
    if not isinstance(key, str) or not key.startswith(naming.FLEET_RUNS_FOLDER):
        return []
    items = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _put_json(s3: Any, bucket: str, key: str, document: Any) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document, separators=(",", ":")).encode(), ContentType="application/json")


@step_handler("Fleet")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    action = event.get("action")
    if action == "plan":
        return plan(event)
    if action == "source_failed":
        return fleet.source_failure(event.get("source") or {}, event.get("failure") or {})
    if action == "summarize":
        return summarize(event.get("state") or {})
    raise ValueError(f"unknown fleet action {str(action)[:40]!r}: plan, source_failed or summarize")
