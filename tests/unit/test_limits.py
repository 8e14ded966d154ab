"""The bounds every growing value keeps: cut texts, causes, logs, step results, notifications."""

from __future__ import annotations

import json
import traceback
from typing import Any

import pytest

from aurora_lake import errors, exports, limits, notifications
from aurora_lake.handler import bounded_error, step_handler

HOSTILE = "é\u202e\x07;\"'\\`{}()\n\t=/ 😀"


@pytest.mark.parametrize("encodings", [1, 2])
@pytest.mark.parametrize("text", ["plain " * 5000, HOSTILE * 3000, "\x01" * 20000, "😀" * 9000])
def test_a_cut_text_fits_its_bound_encoded_as_it_travels(text: str, encodings: int) -> None:
    cut = limits.cut_text(text, 4000, encodings)
    value: Any = cut
    for _ in range(encodings):
        value = json.dumps(value, ensure_ascii=True)
    assert len(value) - 2 <= 4000
    assert cut.endswith("more characters]") and text.startswith(cut[: cut.rindex("...[")])
    # As much as fits is kept (never a tenth of the room).
    assert len(value) > 3000


def test_a_text_that_fits_is_kept_whole() -> None:
    assert limits.cut_text("short", 100) == "short"
    assert limits.cut_text("", 10) == ""


def test_the_strict_size_is_never_smaller_than_utf8() -> None:
    for value in ({"a": HOSTILE * 10}, ["😀" * 100], "é" * 50):
        assert limits.encoded_size(value) >= len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def test_log_values_are_cut_and_counted() -> None:
    logged = limits.for_log({"warning": "x" * 10_000, "tables": list(range(5000)), "nested": [{"deep": "y" * 5000}]})
    assert len(logged["warning"]) < limits.LOG_TEXT_MAX_CHARACTERS + 40
    assert logged["tables"][-1] == f"...[{5000 - limits.LOG_LIST_ITEMS} more items]"
    assert len(json.dumps(logged)) < 5000


# --- RDS's WarningMessage ------------------------------------------------------------------


def test_a_warning_of_thousands_of_skipped_tables_is_bounded_with_its_count() -> None:
    warning = json.dumps({"skippedTables": [{"target": f"db.s.{HOSTILE}{i}", "reason": HOSTILE * 5} for i in range(10_000)],
                          "skippedObjectives": [], "general": []})
    fields = exports.warning_fields(warning)
    assert fields["warning_message_truncated"] is True and fields["warning_count"] == 10_000
    assert len(fields["warning_lines"]) == limits.LINES_IN_STATE
    assert limits.encoded_size(fields) < 4 * 1024  # well inside CheckExport's share
    assert exports.warning_fields("short warning") == {
        "warning_message": "short warning", "warning_message_truncated": False, "warning_count": 1, "warning_lines": ["short warning"],
    }


# --- causes and step results -------------------------------------------------------------


class Context:
    function_name, aws_request_id, memory_limit_in_mb = "f", "r", 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:f"


def lambda_error_object(error: BaseException) -> dict[str, Any]:
    """What the state holds after a Catch: Step Functions' error and the Lambda runtime's error JSON as Cause."""
    cause = {"errorMessage": str(error), "errorType": type(error).__name__,
             "stackTrace": traceback.format_list(traceback.extract_tb(error.__traceback__))}
    return {"Error": type(error).__name__, "Cause": json.dumps(cause)}


def test_a_huge_error_leaves_the_step_cut_and_its_caught_form_fits_its_share() -> None:
    @step_handler("CheckExport")
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise errors.ExportFailed("Export task x FAILED: " + HOSTILE * 50_000)

    with pytest.raises(errors.ExportFailed) as caught:
        handler({"job": {"execution_name": "run-1"}}, Context())
    assert limits.cut_text(str(caught.value), limits.ERROR_MESSAGE_MAX_BYTES, encodings=2) == str(caught.value)
    assert str(caught.value).startswith("Export task x FAILED: ")
    assert limits.encoded_size(lambda_error_object(caught.value)) <= limits.ERROR_OBJECT_MAX_BYTES


def test_an_error_keeps_its_name_and_what_callers_read_from_it() -> None:
    original = errors.InvalidInput("x" * 50_000)
    original.problems = ["p"]  # type: ignore[attr-defined]
    fresh = bounded_error(original)
    assert type(fresh) is errors.InvalidInput and fresh.problems == ["p"]  # type: ignore[attr-defined]
    aws = errors.aws_error(type("E", (Exception,), {"response": {"Error": {"Code": "AccessDenied", "Message": "m" * 50_000}}, "operation_name": "Op"})())
    assert type(bounded_error(aws)).__name__ == "AccessDenied" and bounded_error(aws).code == "AccessDenied"  # type: ignore[attr-defined]


def test_a_result_past_the_steps_share_stops_the_run_with_a_clear_error() -> None:
    @step_handler("CheckExport")
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"warning_message": "w" * (limits.STEP_RESULT_MAX_BYTES["CheckExport"] + 1)}

    with pytest.raises(errors.StateBudgetExceeded, match=r"Step CheckExport returned \d+ bytes, more than its 6144-byte share"):
        handler({}, Context())


# --- notifications ------------------------------------------------------------------------

LONG = HOSTILE * 200


def largest_state() -> dict[str, Any]:
    """A state with every value a stranger or AWS writes at its largest."""
    job = {"cluster_identifier": "c" * 63, "source_identifier": "c" * 63, "execution_name": "n" * 80, "snapshot_mode": "create",
           "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:" + "m" * 80 + ":" + "n" * 80,
           "started_epoch": 0.0, "snapshot_identifier": "s" * 255, "source_account": "123456789012"}
    return {
        "job": job,
        "snapshot": {"snapshot_arn": "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:" + "s" * 255},
        "export": {"export_task_identifier": "e" * 60, "s3_bucket": "b" * 63, "s3_prefix": "p/" * 450, "total_extracted_gb": 10**9,
                   "status": "IN_PROGRESS", **exports.warning_fields(json.dumps({"skippedTables": [LONG] * 10_000}))},
        "athena": {"database": "d" * 255, "workgroup": "w" * 128, "tables_created": 200_000, "tables_skipped": 200_000, "partial": True,
                   "report_uri": "s3://" + "b" * 63 + "/" + "k" * 900, "missing_tables": [{"table": LONG, "reason": LONG}] * 10,
                   "missing_tables_more": 199_990, "sample_table": "t" * 255},
        "cleanup": {"snapshot_identifier": "s" * 255, "reason": LONG, "deleted": False, "snapshot_created": None,
                    "export_task_identifier": "e" * 60, "export_task_status": None, "export_task_error": LONG},
        "failure": {"step": "CheckExport", "error": "E" * 256, "cause": json.dumps({"errorMessage": (LONG + "\n") * 1000})},
        "cleanup_error": {"Error": "E" * 256, "Cause": LONG},
    }


def test_the_largest_notifications_stay_within_snss_limits() -> None:
    state = largest_state()
    report = "s3://" + "b" * 63 + "/reports/runs/" + "n" * 80 + ".json"
    failure = notifications.failure_message(state, 1e9, report_uri=report)
    success = notifications.success_message(state, 1e9, "wg", report_uri=report)
    for message in (failure, success):
        assert len(message["subject"]) <= limits.SNS_SUBJECT_LIMIT
        assert len(message["message"].encode()) < 64 * 1024  # SNS takes 256 KB: a quarter of it at most
    # The failure's result (it becomes $.failure) stays within the Notify share the state walk counts.
    result = {"step": "CheckExport", "error": failure["error"], "cause": failure["cause"]}
    assert limits.encoded_size(result) <= limits.ERROR_OBJECT_MAX_BYTES


# --- the job's share -------------------------------------------------------------------------


def test_a_job_past_its_share_is_refused_naming_export_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from aurora_lake.input_schema import refuse_unless_it_fits, validate_execution_input

    entries = [f"mydb.public.t{index:06d}" for index in range(2000)]
    job = validate_execution_input({"cluster_identifier": "c", "export_only": entries}, region="us-east-1", account="123456789012",
                                   partition="aws", allowed_clusters=None, default_s3_prefix="exports/")
    refuse_unless_it_fits(job)  # 50 KB: well inside the share
    monkeypatch.setattr(limits, "JOB_MAX_BYTES", 40_000)
    with pytest.raises(errors.InvalidInput, match=r"^export_only: the run would carry \d+ bytes of this input in every state; at most 40000 fit"):
        refuse_unless_it_fits(job)


def test_the_largest_valid_job_fits_its_share() -> None:
    from aurora_lake.input_schema import refuse_unless_it_fits, validate_execution_input

    entries, size = ["mydb"], len('["mydb"]')
    while size < 200_000 - 40:
        entries.append(f"mydb.public.t{len(entries):07d}")
        size += len(entries[-1]) + 4
    prefix = "exports/" + ("x_" * 450)[:891] + "/"
    job = validate_execution_input({"cluster_identifier": "c" * 63, "export_only": entries, "s3_prefix": prefix}, region="us-east-1",
                                   account="123456789012", partition="aws", allowed_clusters=None, default_s3_prefix="exports/")
    job.update(execution_name="n" * 80, execution_arn="arn:aws:states:us-east-1:123456789012:execution:" + "m" * 80 + ":" + "n" * 80,
               snapshot_identifier="c" * 63 + "-lake-0123456789ab", region="us-east-1", account="123456789012", partition="aws",
               started_epoch=1e9, deadline_epoch=1e9)
    refuse_unless_it_fits(job)
    assert limits.encoded_size(job) < limits.JOB_MAX_BYTES - 8_000
