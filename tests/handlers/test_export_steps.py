"""StartExport and CheckExport against moto."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto.rds.models import rds_backends

from aurora_lake import errors

from .conftest import ACCOUNT, REGION, job, load_handler

start = load_handler("start_export")
check = load_handler("check_export")
create = load_handler("create_snapshot")


@pytest.fixture
def export_setup(aurora_cluster: str, environment, context: object) -> dict[str, Any]:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="export-bucket")
    key_arn = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    environment(EXPORT_BUCKET="export-bucket", EXPORT_KMS_KEY_ARN=key_arn, EXPORT_ROLE_ARN=f"arn:aws:iam::{ACCOUNT}:role/export")
    snapshot = create.lambda_handler({"job": job()}, context)
    return {"job": job(), "snapshot": snapshot}


def export_tasks() -> list[dict[str, Any]]:
    return boto3.client("rds").describe_export_tasks()["ExportTasks"]


def set_status(identifier: str, status: str, **fields: Any) -> None:
    task = rds_backends[ACCOUNT][REGION].export_tasks[identifier]
    task.status = status
    for name, value in fields.items():
        setattr(task, name, value)


def test_start_twice_starts_one_export(export_setup: dict[str, Any], context: object) -> None:
    first = start.lambda_handler(export_setup, context)
    second = start.lambda_handler(export_setup, context)
    [task] = export_tasks()
    assert first["export_task_identifier"] == second["export_task_identifier"] == task["ExportTaskIdentifier"]
    assert task["SourceArn"] == export_setup["snapshot"]["snapshot_arn"]
    assert task["S3Prefix"] == "exports"
    assert len(task["ExportTaskIdentifier"]) <= 60
    assert first["s3_prefix"] == "exports/"


def test_export_only_is_passed_through(export_setup: dict[str, Any], context: object) -> None:
    event = {**export_setup, "job": job(export_only=["mydb.public.users"])}
    start.lambda_handler(event, context)
    [task] = export_tasks()
    assert task["ExportOnly"] == ["mydb.public.users"]


def test_task_with_our_name_but_another_source_is_an_error(export_setup: dict[str, Any], context: object) -> None:
    started = start.lambda_handler(export_setup, context)
    set_status(started["export_task_identifier"], "COMPLETE", source_arn="arn:aws:rds:us-east-1:123456789012:cluster-snapshot:other")
    with pytest.raises(errors.ExportSourceMismatch, match="cluster-snapshot:other"):
        start.lambda_handler(export_setup, context)


@pytest.mark.parametrize("reported", ["complete", "COMPLETE"])
def test_complete_in_any_case_is_complete(export_setup: dict[str, Any], context: object, reported: str) -> None:
    started = start.lambda_handler(export_setup, context)
    set_status(started["export_task_identifier"], reported)
    checked = check.lambda_handler({**export_setup, "export": started}, context)
    assert checked["status"] == "COMPLETE"
    assert checked["s3_prefix"] == "exports/"


def test_failed_export_raises_with_the_failure_cause(export_setup: dict[str, Any], context: object) -> None:
    started = start.lambda_handler(export_setup, context)
    set_status(started["export_task_identifier"], "FAILED", failure_cause="KMS key check failed")
    with pytest.raises(errors.ExportFailed, match="KMS key check failed"):
        check.lambda_handler({**export_setup, "export": started}, context)


def test_canceled_export_raises(export_setup: dict[str, Any], context: object) -> None:
    started = start.lambda_handler(export_setup, context)
    set_status(started["export_task_identifier"], "CANCELED")
    with pytest.raises(errors.ExportCanceled):
        check.lambda_handler({**export_setup, "export": started}, context)


def test_running_export_gets_a_wait_and_keeps_its_progress(export_setup: dict[str, Any], context: object) -> None:
    started = start.lambda_handler(export_setup, context)
    set_status(started["export_task_identifier"], "IN_PROGRESS", percent_progress=40)
    checked = check.lambda_handler({**export_setup, "export": started}, context)
    assert checked["status"] == "IN_PROGRESS"
    assert checked["wait_seconds"] >= 30
    assert checked["progress"]["polls"] == 1


def test_unknown_status_fails_loudly(export_setup: dict[str, Any], context: object) -> None:
    started = start.lambda_handler(export_setup, context)
    set_status(started["export_task_identifier"], "PAUSED")
    with pytest.raises(errors.UnknownExportStatus, match="PAUSED"):
        check.lambda_handler({**export_setup, "export": started}, context)


def test_export_past_its_deadline_fails(export_setup: dict[str, Any], context: object, environment) -> None:
    started = start.lambda_handler(export_setup, context)
    set_status(started["export_task_identifier"], "IN_PROGRESS")
    started["progress"]["started_at"] -= 100_000
    environment(EXPORT_DEADLINE_SECONDS="3600")
    with pytest.raises(errors.ExportDeadlineExceeded, match="ExportTimeoutSeconds"):
        check.lambda_handler({**export_setup, "export": started}, context)
