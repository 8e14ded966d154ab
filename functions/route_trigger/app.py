"""RouteTrigger: every snapshot-created and AWS Backup event, to at most one export execution.

EventBridge invokes it asynchronously: an error (a forged or malformed event, a throttled start)
is raised, so Lambda retries it and then keeps the event in the trigger dead-letter queue, whose
alarm says so. See aurora_lake/triggers.py.
"""

from __future__ import annotations

from typing import Any

from aurora_lake import settings, triggers
from aurora_lake.clients import client
from aurora_lake.handler import step_handler
from aurora_lake.observability import logger


@step_handler("RouteTrigger")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # No execution exists yet: the lines of one event are found by the EventBridge event's id.
    logger.set_correlation_id(event.get("id") if isinstance(event.get("id"), str) else None)
    state_machine_arn = settings.required("STATE_MACHINE_ARN")

    def start(name: str, execution_input: str) -> str:
        return str(client("stepfunctions").start_execution(stateMachineArn=state_machine_arn, name=name, input=execution_input)["executionArn"])

    return triggers.route(event, state_machine_arn=state_machine_arn, start=start)
