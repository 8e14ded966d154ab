"""ValidateInput: check the execution input and derive every name the run uses."""

from __future__ import annotations

from typing import Any

from aurora_lake import clock, naming, settings
from aurora_lake.handler import step_handler
from aurora_lake.input_schema import validate_execution_input


def build_job(event: dict[str, Any]) -> dict[str, Any]:
    machine = naming.parse_state_machine_arn(event["state_machine_arn"])
    job = validate_execution_input(
        event.get("input"),
        region=machine.region,
        account=machine.account,
        partition=machine.partition,
        allowed_clusters=settings.allowed_clusters(),
        default_s3_prefix=settings.optional("DEFAULT_S3_PREFIX", "exports/"),
    )
    job.update(
        execution_name=event["execution_name"],
        execution_arn=event["execution_arn"],
        region=machine.region,
        account=machine.account,
        partition=machine.partition,
        started_epoch=clock.now(),
    )
    if job["snapshot_mode"] == "create":
        job["snapshot_identifier"] = naming.snapshot_identifier(job["cluster_identifier"], event["execution_name"])
    if job["snapshot_mode"] == "cluster":
        job["cluster_arn"] = naming.cluster_arn(machine.partition, machine.region, machine.account, job["cluster_identifier"])
    return job


@step_handler("ValidateInput")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"job": build_job(event)}
