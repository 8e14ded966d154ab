"""ValidateInput: check the execution input and derive every name the run uses.

The fleet state machine calls it too (``"fleet": true``): the clusters' and DB instances' inputs and names.
"""

from __future__ import annotations

from typing import Any

from aurora_lake import clock, deadline, fleet, naming, opt_in, settings, sources, triggers
from aurora_lake.errors import SourceNotOptedIn
from aurora_lake.handler import step_handler
from aurora_lake.input_schema import refuse_unless_it_fits, validate_execution_input


def build_job(event: dict[str, Any]) -> dict[str, Any]:
    machine = naming.parse_state_machine_arn(event["state_machine_arn"])
    job = validate_execution_input(
        event.get("input"),
        region=machine.region,
        account=machine.account,
        partition=machine.partition,
        allowed_clusters=settings.allowed_clusters(),
        allowed_db_instances=settings.allowed_db_instances(),
        default_s3_prefix=settings.optional("DEFAULT_S3_PREFIX", "exports/"),
        organization_id=settings.organization_id(),
    )
    job.update(
        execution_name=event["execution_name"],
        execution_arn=event["execution_arn"],
        region=machine.region,
        # The source's account: its ARNs and its tables' ownership record name it.
        account=job.get("source_account") or machine.account,
        partition=machine.partition,
        started_epoch=clock.now(),
    )
    job["deadline_epoch"] = deadline.deadline_epoch(job["started_epoch"])
    if job["snapshot_mode"] == "create":
        job["snapshot_identifier"] = naming.snapshot_identifier(job["source_identifier"], event["execution_name"])
    if isinstance(event.get("input"), dict) and event["input"].get("trigger"):
        job["trigger"] = event["input"]["trigger"]
        source = sources.of_job(job)
        reason = triggers.reason_to_ignore(job, source.allowed(), source)
        if reason:
            job.update(triggers.ignored(job, reason))
    if job.get("source_account") and not job.get("ignored"):
        # Before anything is created: a source account's source (or given snapshot) carries the
        # opt-in tag, read through the account's access role. A start from an event ends quietly.
        refusal = opt_in.job_refusal(job)
        if refusal and job.get("trigger"):
            job.update(triggers.ignored(job, refusal))
        elif refusal:
            raise SourceNotOptedIn(refusal[0].upper() + refusal[1:] + ". Nothing was created.")
    if job["snapshot_mode"] == "cluster":
        job["cluster_arn"] = naming.cluster_arn(machine.partition, machine.region, job["account"], job["cluster_identifier"])
    refuse_unless_it_fits(job)
    return job


def build_fleet(event: dict[str, Any]) -> dict[str, Any]:
    machine = naming.parse_state_machine_arn(event["state_machine_arn"])
    job = fleet.validate_fleet_input(
        event.get("input"),
        region=machine.region,
        account=machine.account,
        partition=machine.partition,
        default_s3_prefix=settings.optional("DEFAULT_S3_PREFIX", "exports/"),
        execution_name=event["execution_name"],
        max_concurrency=int(settings.optional("FLEET_MAX_CONCURRENCY", "2")),
    )
    job.update(started_epoch=clock.now(), region=machine.region)
    return {"fleet": job, "execution_arn": event["execution_arn"], "execution_name": event["execution_name"]}


@step_handler("ValidateInput")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("fleet") is True:
        return build_fleet(event)
    return {"job": build_job(event)}
