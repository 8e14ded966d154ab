"""NotifySuccess / NotifyFailure: publish the run's outcome to the SNS topic."""

from __future__ import annotations

from typing import Any

from aurora_lake import clock, notifications, settings
from aurora_lake.clients import client
from aurora_lake.handler import step_handler
from aurora_lake.observability import MetricUnit, count_for_cluster, metrics


def publish(notification: dict[str, Any], topic_arn: str) -> str:
    response = client("sns").publish(
        TopicArn=topic_arn,
        Subject=notification["subject"],
        Message=notification["message"],
        MessageAttributes=notification["attributes"],
    )
    return str(response["MessageId"])


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
        notification = notifications.success_message(state, clock.now(), settings.optional("ATHENA_WORKGROUP", ""))
        message_id = publish(notification, topic_arn)
        # What the freshness alarms and the PARTIAL alarm watch: a run that catalogued no table is not fresh.
        cluster = (state.get("job") or {}).get("cluster_identifier") or (state.get("snapshot") or {}).get("source_cluster_identifier")
        if cluster and notifications.counts_as_fresh(state):
            count_for_cluster("ExportsSucceeded", str(cluster), (state.get("job") or {}).get("source_account"))
        if notification["status"] == "PARTIAL":
            metrics.add_metric(name="PartialExports", unit=MetricUnit.Count, value=1)
        return {"status": notification["status"], "message_id": message_id}
    notification = notifications.failure_message(state, clock.now())
    publish(notification, topic_arn)
    # Becomes $.failure, which the Fail state reads: the original error and a readable cause.
    return {"step": (state.get("failure") or {}).get("step"), "error": notification["error"], "cause": notification["cause"]}
