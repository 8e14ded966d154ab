"""The run's report against moto: CheckExport with thousands of skipped tables, Notify naming the report."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto.rds.models import rds_backends

from aurora_lake import limits, run_report

from .conftest import ACCOUNT, REGION, job, load_handler

start = load_handler("start_export")
check = load_handler("check_export")
create = load_handler("create_snapshot")
notify = load_handler("notify")

HOSTILE = "é\u202e;\"'`{}()=/ 😀"
SKIPPED = [{"target": f"mydb.public.t{index:05d}_{HOSTILE * 4}", "reason": "Table name holds '/'"} for index in range(5000)]
WARNING = json.dumps({"skippedTables": SKIPPED, "skippedObjectives": [], "general": []})


@pytest.fixture
def export_setup(aurora_cluster: str, environment: Any, context: object) -> dict[str, Any]:
    boto3.client("s3").create_bucket(Bucket="export-bucket")
    key_arn = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
    topic = boto3.client("sns").create_topic(Name="notifications")["TopicArn"]
    environment(EXPORT_BUCKET="export-bucket", EXPORT_KMS_KEY_ARN=key_arn, EXPORT_ROLE_ARN=f"arn:aws:iam::{ACCOUNT}:role/export", TOPIC_ARN=topic)
    snapshot = create.lambda_handler({"job": job()}, context)
    return {"job": job(), "snapshot": snapshot}


def report(name: str = "run-1") -> dict[str, Any]:
    body = boto3.client("s3").get_object(Bucket="export-bucket", Key=run_report.key_for(name))["Body"].read()
    return json.loads(body)


def test_thousands_of_skipped_tables_stay_bounded_in_the_state_and_whole_in_the_report(export_setup: dict[str, Any], context: object) -> None:
    started = start.lambda_handler({**export_setup, "job": job(export_only=["mydb"])}, context)
    assert "export_only" not in started  # the job holds it, once
    task = rds_backends[ACCOUNT][REGION].export_tasks[started["export_task_identifier"]]
    task.status, task.warning_message = "COMPLETE", WARNING
    assert len(WARNING) > 500_000

    checked = check.lambda_handler({**export_setup, "export": started}, context)

    assert limits.encoded_size(checked) <= limits.STEP_RESULT_MAX_BYTES["CheckExport"]
    assert checked["warning_message_truncated"] is True and checked["warning_count"] == len(SKIPPED)
    assert len(checked["warning_lines"]) == limits.LINES_IN_STATE
    assert checked["run_report"] == "s3://export-bucket/reports/runs/run-1.json"
    kept = report()["export_warning"]
    assert kept["warning_message"] == WARNING
    assert [entry["table"] for entry in kept["skipped"]] == [entry["target"] for entry in SKIPPED]
    # What CreateAthenaTables reads back: the whole message, not the state's cut one.
    assert run_report.full_warning_message(checked, job()["execution_arn"]) == WARNING


def test_a_report_of_another_execution_with_the_same_name_is_replaced_never_merged(export_setup: dict[str, Any]) -> None:
    run_report.add_section("export-bucket", "run-1", "arn:old", "outcome", {"status": "SUCCEEDED"})
    run_report.add_section("export-bucket", "run-1", "arn:new", "export_warning", {"x": 1}, merge=True)
    assert set(report()) == {"report_version", "execution_name", "execution_arn", "export_warning", "updated_at"}
    assert report()["execution_arn"] == "arn:new"


def test_an_execution_name_unfit_for_a_key_is_replaced_by_its_hash() -> None:
    assert run_report.key_for("run-1") == "reports/runs/run-1.json"
    for name in ("..", "a/b", "x\ny", ""):
        assert run_report.key_for(name).startswith("reports/runs/execution-") and "/" not in run_report.key_for(name)[len("reports/runs/"):]


def failed_state() -> dict[str, Any]:
    return {"job": job(), "failure": {"step": "StartExport", "error": "AccessDenied", "cause": "StartExportTask: AccessDenied: Access Denied"},
            "cleanup": {"deleted": False, "snapshot_identifier": None, "reason": "this execution creates no snapshot",
                        "snapshot_created": None, "export_task_identifier": None, "export_task_status": None}}


def test_the_failure_notification_names_the_report_it_was_written_with(export_setup: dict[str, Any], context: object) -> None:
    result = notify.lambda_handler({"outcome": "failure", "state": failed_state()}, context)
    assert result["error"] == "AccessDenied"
    written = report()["outcome"]
    assert written["status"] == "FAILED" and written["failure"]["error"] == "AccessDenied"
    assert "Run report:   s3://export-bucket/reports/runs/run-1.json" in written["notification"]["message"]
    assert "Export task:  none was started" in written["notification"]["message"]


def test_a_report_that_cannot_be_written_never_stops_the_notification(export_setup: dict[str, Any], context: object, environment: Any) -> None:
    environment(EXPORT_BUCKET="no-such-bucket")
    notify.lambda_handler({"outcome": "failure", "state": failed_state()}, context)
    [message] = [json.loads(m) for m in _published()]
    assert "Run report:   not written (NoSuchBucket)" in message["Message"]


def _published() -> list[str]:
    from moto.sns.models import sns_backends

    backend = sns_backends[ACCOUNT][REGION]
    return [json.dumps({"Message": message}) for topic in backend.topics.values() for _, message, *_ in topic.sent_notifications]
