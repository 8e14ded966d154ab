"""Notifications: readable, bounded subjects, and the cause where it matters."""

from __future__ import annotations

import json

from aurora_lake import notifications

JOB = {
    "cluster_identifier": "demo-aurora-cluster",
    "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:sm:run-1",
    "region": "us-east-1",
    "started_epoch": 1000.0,
}


def test_failure_message_carries_the_export_failure_cause_and_advice() -> None:
    cause = json.dumps({"errorType": "ExportFailed", "errorMessage": "Export task x FAILED: KMS key check failed"})
    state = {"job": JOB, "failure": {"step": "CheckExport", "error": "ExportFailed", "cause": cause}}
    message = notifications.failure_message(state)
    assert message["error"] == "ExportFailed"
    assert message["cause"] == "Export task x FAILED: KMS key check failed"
    assert "KMS key check failed" in message["message"]
    assert "Failed step:  CheckExport" in message["message"]
    assert message["subject"].startswith("[aurora-lake] FAILED demo-aurora-cluster")
    assert message["attributes"]["status"]["StringValue"] == "FAILED"
    assert "console.aws.amazon.com/states" in message["message"]


def test_failure_of_invalid_input_uses_the_raw_input_for_the_cluster() -> None:
    state = {"input": {"cluster_identifier": "x_y"}, "failure": {"step": "ValidateInput", "error": "InvalidInput", "cause": "cluster_identifier: bad"}}
    message = notifications.failure_message(state)
    assert message["attributes"]["cluster"]["StringValue"] == "x_y"
    assert "Nothing was created" in message["message"]


def test_failure_with_a_non_object_input_still_formats() -> None:
    message = notifications.failure_message({"input": [1, 2], "failure": {"step": "ValidateInput", "error": "InvalidInput", "cause": "input: must be an object"}})
    assert "cluster" not in message["attributes"]
    assert "input: must be an object" in message["message"]


def test_subject_never_exceeds_the_sns_limit() -> None:
    state = {"job": {**JOB, "cluster_identifier": "c" * 63}, "failure": {"step": "CreateAthenaTables", "error": "E" * 80, "cause": "x"}}
    assert len(notifications.failure_message(state)["subject"]) <= 100


def test_success_message_names_location_database_and_sample_query() -> None:
    state = {
        "job": JOB,
        "snapshot": {"snapshot_arn": "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:s1"},
        "export": {"export_task_identifier": "exp-1", "s3_bucket": "bucket", "s3_prefix": "exports/", "total_extracted_gb": 2},
        "athena": {"database": "lake", "tables_created": 3, "tables_skipped": 0, "sample_table": "mydb_public_users", "partial": False},
        "cleanup": {"snapshot_identifier": "s1", "reason": "deleted after a successful export"},
    }
    message = notifications.success_message(state, now=1000.0 + 3725, workgroup="wg")
    assert message["status"] == "SUCCEEDED"
    assert "s3://bucket/exports/exp-1/" in message["message"]
    assert 'SELECT * FROM "lake"."mydb_public_users" LIMIT 10;' in message["message"]
    assert "1h 02m 05s" in message["message"]
    assert len(message["subject"]) <= 100


def test_success_with_skipped_tables_is_partial_and_lists_them() -> None:
    state = {
        "job": JOB,
        "export": {"export_task_identifier": "exp-1", "s3_bucket": "b", "s3_prefix": "", "warning_message": None},
        "athena": {"database": "lake", "partial": True, "missing_tables": [{"table": "mydb.public.big", "reason": "row too large"}]},
    }
    message = notifications.success_message(state, now=2000.0, workgroup="wg")
    assert message["status"] == "PARTIAL"
    assert "mydb.public.big: row too large" in message["message"]
    assert message["subject"].startswith("[aurora-lake] PARTIAL")


def test_cause_text_keeps_plain_text_and_unwraps_lambda_errors() -> None:
    assert notifications.cause_text("plain") == "plain"
    assert notifications.cause_text(json.dumps({"errorMessage": "inner"})) == "inner"
    assert notifications.cause_text(None) == ""
