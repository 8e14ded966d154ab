"""NotifySuccess / NotifyFailure: write the run's report, then publish the run's outcome to the SNS topic."""

from __future__ import annotations

from typing import Any

from aurora_lake import clock, limits, notifications, run_report, settings
from aurora_lake.clients import client
from aurora_lake.handler import step_handler
from aurora_lake.observability import MetricUnit, count_for_cluster, logger, metrics


def publish(notification: dict[str, Any], topic_arn: str) -> str:
    response = client("sns").publish(
        TopicArn=topic_arn,
        Subject=notification["subject"],
        Message=notification["message"],
        MessageAttributes=notification["attributes"],
    )
    return str(response["MessageId"])


def with_report(state: dict[str, Any], outcome: str, build: Any) -> dict[str, Any]:
    """The notification, built by ``build(report_uri, report_error)`` naming the run's report, and
    the report written with it (its ``outcome`` section). A report that cannot be written never
    stops the notification: the e-mail says so instead of naming it."""
    bucket = settings.optional("EXPORT_BUCKET", "")
    job = state.get("job") or {}
    # Before validation (a refused input) the state holds the execution's name itself.
    name = str(job.get("execution_name") or state.get("execution_name") or "")
    arn = job.get("execution_arn") or state.get("execution_arn")
    if not job:
        return build(None, None)  # a refused input: nothing is created, not even a report
    if not bucket or not name:
        return build(None, "the run has no execution name or export bucket")
    uri = run_report.uri_of(bucket, run_report.key_for(name))
    notification = build(uri, None)
    try:
        # CheckExport started the report when the state names it (RDS's warnings): its section is kept.
        merge = bool((state.get("export") or {}).get("run_report"))
        run_report.add_section(bucket, name, arn, "outcome", _outcome(state, outcome, notification), merge=merge)
    except Exception as error:  # whatever stops the report must not stop the notification
        logger.warning("run report not written", extra={"error": type(error).__name__, "cause": limits.for_log(str(error))})
        notification = build(None, f"{type(error).__name__}")
    return notification


def _outcome(state: dict[str, Any], outcome: str, notification: dict[str, Any]) -> dict[str, Any]:
    """The report's outcome: the state's parts in full (export_only, causes) and the notification as sent."""
    keys = ("job", "snapshot", "export", "athena", "cleanup", "failure", "cleanup_error", "export_wait_error")
    return {
        "outcome": outcome,
        "status": notification.get("status") or "FAILED",
        **{key: state[key] for key in keys if key in state},
        "notification": {"subject": notification["subject"], "message": notification["message"]},
    }


@step_handler("Notify")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = event.get("state") or {}
    topic_arn = settings.required("TOPIC_ARN")
    if event.get("outcome") == "fleet":
        notification = notifications.fleet_message(state, clock.now())
        message_id = publish(notification, topic_arn)
        # The fleet's Choice and Fail states read these: any cluster not exported fails the run.
        keys = ("status", "failed", "error", "cause")
        return {"message_id": message_id, **{key: notification[key] for key in keys}}
    if event.get("outcome") == "success":
        workgroup = settings.optional("ATHENA_WORKGROUP", "")
        notification = with_report(
            state, "success", lambda uri, error: notifications.success_message(state, clock.now(), workgroup, report_uri=uri, report_error=error)
        )
        message_id = publish(notification, topic_arn)
        # What the freshness alarms and the PARTIAL alarm watch: a run that catalogued no table is not fresh.
        cluster = (state.get("job") or {}).get("cluster_identifier") or (state.get("snapshot") or {}).get("source_cluster_identifier")
        if cluster and notifications.counts_as_fresh(state):
            count_for_cluster("ExportsSucceeded", str(cluster), (state.get("job") or {}).get("source_account"))
        if notification["status"] == "PARTIAL":
            metrics.add_metric(name="PartialExports", unit=MetricUnit.Count, value=1)
        return {"status": notification["status"], "message_id": message_id}
    notification = with_report(state, "failure", lambda uri, error: notifications.failure_message(state, clock.now(), report_uri=uri, report_error=error))
    publish(notification, topic_arn)
    # Becomes $.failure, which the Fail state reads: the original error and a readable, bounded cause.
    return {"step": (state.get("failure") or {}).get("step"), "error": notification["error"], "cause": notification["cause"]}
