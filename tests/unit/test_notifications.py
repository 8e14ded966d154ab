"""Notifications: readable, bounded subjects, and the cause where it matters."""

from __future__ import annotations

import json

import pytest

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


def test_failure_of_invalid_input_names_the_cluster_only_when_it_is_a_valid_identifier() -> None:
    state = {"input": {"cluster_identifier": "x_y"}, "failure": {"step": "ValidateInput", "error": "InvalidInput", "cause": "cluster_identifier: bad"}}
    message = notifications.failure_message(state)
    assert "cluster" not in message["attributes"]
    assert "Nothing was created" in message["message"]
    valid = notifications.failure_message({**state, "input": {"cluster_identifier": "not-allowed-cluster"}})
    assert valid["attributes"]["cluster"]["StringValue"] == "not-allowed-cluster"


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
    assert notifications.cause_text(None) == "no cause given"


# --- subjects --------------------------------------------------------------------------------

EXPORT_ID = "demo-aurora-cluster-lake-e0d333f7ea9d-4ee8eadf7251"  # the shape the workflow names exports


def _success(cluster: str = "demo-aurora-cluster", export_id: str = EXPORT_ID, **athena: object) -> dict:
    state = {
        "job": {**JOB, "cluster_identifier": cluster},
        "export": {"export_task_identifier": export_id, "s3_bucket": "b", "s3_prefix": "exports/", "total_extracted_gb": 0},
        "athena": {"database": "lake", "workgroup": "wg", "tables_created": 5, "tables_skipped": 0, "sample_table": "t", **athena},
    }
    return notifications.success_message(state, now=1000.0 + 60, workgroup="")


def test_common_subject_holds_status_cluster_and_the_whole_export_id() -> None:
    subject = _success()["subject"]
    assert len(subject) <= 100
    assert subject.startswith("[aurora-lake] SUCCEEDED demo-aurora-cluster")
    assert subject.endswith(EXPORT_ID) and "..." not in subject


def test_short_names_keep_the_export_label() -> None:
    assert _success("orders", "orders-lake-0123456789ab-0123456789ab")["subject"] == (
        "[aurora-lake] SUCCEEDED orders export orders-lake-0123456789ab-0123456789ab"
    )


def test_longest_cluster_and_export_id_still_keep_the_export_id_whole() -> None:
    cluster = "c" + "-x" * 31  # 63 characters, the longest cluster identifier
    export_id = (cluster + "-lake")[:47] + "-0123456789ab"  # 60 characters, the longest export id
    subject = _success(cluster, export_id)["subject"]
    assert len(subject) <= 100 and subject.endswith(export_id)
    assert subject.startswith("[aurora-lake] SUCCEEDED c-x-x")


@pytest.mark.parametrize("cluster_export", [("orders", "orders-lake-0123456789ab-0123456789ab"),
                                            ("c" + "-x" * 31, ("c" + "-x" * 31 + "-lake")[:47] + "-0123456789ab"),
                                            ("a" * 63, "snapshot-from-elsewhere-0123456789ab-0123456789ab")])
def test_a_run_that_catalogued_no_table_says_so_in_every_subject_and_is_never_fresh(cluster_export: tuple[str, str]) -> None:
    cluster, export_id = cluster_export
    empty = _success(cluster, export_id, tables_created=0, tables_skipped=2, partial=True, sample_table=None)
    assert empty["status"] == "PARTIAL"
    assert empty["subject"].startswith("[aurora-lake] PARTIAL (0 tables) ")
    assert len(empty["subject"]) <= 100 and empty["subject"].endswith(export_id)
    assert empty["message"].startswith(f"The export of {cluster} catalogued no table")
    assert "SELECT" not in empty["message"]


@pytest.mark.parametrize(("athena", "fresh"), [
    ({"tables_created": 1}, True), ({"tables_created": 5000}, True),
    ({"tables_created": 0}, False), ({}, False), (None, False),
    ({"tables_created": "3"}, False), ({"tables_created": True}, False), ({"tables_created": -1}, False),
])
def test_only_a_run_that_catalogued_a_table_counts_as_fresh(athena: object, fresh: bool) -> None:
    assert notifications.counts_as_fresh({"athena": athena}) is fresh
    # Whatever the export said: an empty catalogue never counts, a partial one with tables does.
    assert notifications.counts_as_fresh({"athena": athena, "export": {"warning_message": "x"}}) is fresh


def test_export_id_not_derived_from_the_cluster_shortens_the_cluster_instead() -> None:
    cluster = "a" * 63
    export_id = "snapshot-from-elsewhere-0123456789ab-0123456789ab"
    subject = _success(cluster, export_id)["subject"]
    assert len(subject) <= 100 and subject.endswith(" " + export_id) and "..." in subject


def test_subject_of_a_hostile_input_is_one_printable_line() -> None:
    state = {"input": {"cluster_identifier": "evil\ncluster\tname\u00e9"}, "failure": {"step": "ValidateInput", "error": "InvalidInput", "cause": "x"}}
    subject = notifications.failure_message(state)["subject"]
    # A refused input's text is no cluster identifier: it is left out of the subject.
    assert subject == "[aurora-lake] FAILED ValidateInput: InvalidInput"
    assert all(32 <= ord(ch) < 127 for ch in subject)


# --- bodies ----------------------------------------------------------------------------------


def test_success_body_reads_as_a_report_with_a_runnable_query_and_the_execution() -> None:
    message = _success(report_uri="s3://b/athena-plans/x/report.json")
    body = message["message"]
    assert body.splitlines()[0] == "The export of demo-aurora-cluster to the data lake succeeded: 5 tables are queryable in Athena."
    assert "Exported size: less than 1 GB" in body
    assert "Started:       1970-01-01 00:16:40 UTC" in body and "Duration:      1m 00s" in body
    assert "Table report:  s3://b/athena-plans/x/report.json" in body
    assert 'Query it in Athena (workgroup wg):\n  SELECT * FROM "lake"."t" LIMIT 10;' in body
    assert "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/" + JOB["execution_arn"] in body
    assert {name: value["StringValue"] for name, value in message["attributes"].items()} == {
        "status": "SUCCEEDED", "cluster": "demo-aurora-cluster", "export_id": EXPORT_ID,
    }


def test_partial_body_counts_what_is_missing_and_points_to_the_report() -> None:
    message = _success(partial=True, tables_created=3, tables_skipped=2, report_uri="s3://b/r.json", missing_tables_more=1,
                       missing_tables=[{"table": "mydb.public.big", "reason": "row too large"}])
    body = message["message"]
    assert body.splitlines()[0] == "The export of demo-aurora-cluster finished with missing tables: 3 queryable in Athena, 2 missing (listed below)."
    assert "  - mydb.public.big: row too large" in body and "... and 1 more (see s3://b/r.json)" in body
    assert message["attributes"]["status"]["StringValue"] == "PARTIAL"


def test_failure_before_validation_still_links_the_execution_and_names_the_log_correlation_id() -> None:
    arn = "arn:aws:states:eu-west-1:123456789012:execution:sm:nightly-42"
    state = {"input": {"cluster_identifier": "x"}, "execution_arn": arn, "execution_name": "nightly-42",
             "failure": {"step": "ValidateInput", "error": "InvalidInput", "cause": "export_onyl: unknown key"}}
    message = notifications.failure_message(state)
    assert f"https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/{arn}" in message["message"]
    assert '"correlation_id": "nightly-42"' in message["message"]
    assert message["attributes"]["error"]["StringValue"] == "InvalidInput"


def test_failure_body_says_when_it_started_and_how_long_it_ran() -> None:
    state = {"job": JOB, "failure": {"step": "CheckExport", "error": "ExportFailed", "cause": "x"}}
    body = notifications.failure_message(state, now=1000.0 + 7200)["message"]
    assert body.splitlines()[0] == "The export of demo-aurora-cluster to the data lake FAILED in step CheckExport."
    assert "(failed after 2h 00m 00s)" in body


def test_console_links_follow_the_partition() -> None:
    assert notifications.console_link("arn:aws-cn:states:cn-north-1:1:execution:sm:r").startswith("https://cn-north-1.console.amazonaws.cn/")
    assert notifications.console_link("arn:aws-us-gov:states:us-gov-west-1:1:execution:sm:r").startswith(
        "https://us-gov-west-1.console.amazonaws-us-gov.com/")
    assert notifications.console_link(None) is None and notifications.console_link("not-an-arn") is None


def test_what_changed_stays_bounded_and_clean_whatever_the_names_and_the_table_count() -> None:
    # Every table of a large export changed, each named and with columns named by an attacker: the
    # notification counts them all and spells out three of each kind, cut, on lines of their own.
    from aurora_lake.catalog import drift, ownership
    from tests.security.test_notification_injection import assert_clean

    hostile = "x\n\nStatus: SUCCEEDED\u202e\x1b[31m attacker@evil.example " * 40
    source = ownership.Source("123456789012", "cluster", "demo")
    rows = [drift.row({"table": f"t{n}", "status": "committed", "rows": 0 if n % 2 else 1, "previous_rows": 10,
                       "previous_export": "exp-0", "added": [hostile + str(c) for c in range(10)], "dropped": [hostile],
                       "retyped": [{"column": hostile, "from": "int", "to": "bigint"}],
                       "refused": [{"column": hostile, "from": "string", "to": "int"}], "archived_as": hostile},
                      "exp-1", source, f"mydb.public.{hostile}{n}") for n in range(600)]
    summary = drift.summary(rows, "s3://bucket/drift-log/123456789012/exp_1.json")
    assert [summary[kind]["count"] for kind in ("schema", "refused", "lost_most_rows", "became_empty")] == [600, 600, 300, 300]
    state = {"job": JOB, "snapshot": {"snapshot_arn": "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:s1"},
             "export": {"export_task_identifier": "exp-1", "s3_bucket": "bucket", "s3_prefix": "exports/"},
             "athena": {"database": "lake", "tables_created": 600, "tables_skipped": 0, "partial": False, "drift": summary}}
    text = notifications.success_message(state, now=1000.0, workgroup="wg")["message"]
    assert len(text.encode()) < 16 * 1024  # whatever the table count; SNS's limit is 256 KB
    assert "600 tables changed columns" in text and "300 tables became empty" in text and "300 tables lost most of their rows" in text
    assert "and 597 more" in text and "drift-log/123456789012/exp_1.json" in text
    assert max(len(line) for line in text.split("\n")) < 1000
    attacker_lines: list[str] = []
    assert_clean(text, attacker_lines)
