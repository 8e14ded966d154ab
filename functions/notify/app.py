"""NotifySuccess / NotifyFailure: publish the run's outcome to the SNS topic."""

from __future__ import annotations

from typing import Any

from aurora_lake import clock, freshness, notifications, settings
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
    if event.get("outcome") == "success":
        notification = notifications.success_message(state, clock.now(), settings.optional("ATHENA_WORKGROUP", ""))
        # What the freshness alarms and the stale-sources check count: a run that catalogued at
        # least one table. The source's marker first, so a notified success is always recorded.
        fresh = freshness.catalogued_any_table(state)
        source = freshness.source_of(state)
        if fresh and source is not None:
            freshness.record_success(client("s3"), settings.required("EXPORT_BUCKET"), source, freshness.marker(state, clock.now()))
        message_id = publish(notification, topic_arn)
        cluster = (state.get("job") or {}).get("cluster_identifier") or (state.get("snapshot") or {}).get("source_cluster_identifier")
        if fresh and cluster:
            count_for_cluster("ExportsSucceeded", str(cluster), (state.get("job") or {}).get("source_account"))
        if notification["status"] == "PARTIAL":
            metrics.add_metric(name="PartialExports", unit=MetricUnit.Count, value=1)
        return {"status": notification["status"], "message_id": message_id}
    notification = notifications.failure_message(state, clock.now())
    publish(notification, topic_arn)
    # Becomes $.failure, which the Fail state reads: the original error and a readable cause.
    return {"step": (state.get("failure") or {}).get("step"), "error": notification["error"], "cause": notification["cause"]}
