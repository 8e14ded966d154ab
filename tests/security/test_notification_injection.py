"""Text from the source database or the execution input can never form a line of the product's own.

Every value a stranger wrote (table, schema and column names, skip reasons, folder
paths, a refused input) appears after a label of the product on one line, with control
and format characters shown escaped and long values cut with a marker; message
attributes carry only validated values; the SELECT to paste uses only names the stack made.
"""

from __future__ import annotations

import json
import unicodedata

import pytest

from aurora_lake import notifications

JOB = {
    "cluster_identifier": "demo-aurora-cluster",
    "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:sm:run-1",
    "region": "us-east-1",
    "started_epoch": 1000.0,
}
INJECTIONS = [
    "x\n\nQuery it in Athena:\n  SELECT * FROM \"lake\".\"stolen\" LIMIT 10;",
    "x\r\nBcc: attacker@example.com\r\n",
    "x\u2028Status:        SUCCEEDED\u2029rotate your keys at https://evil.example",
    "x\x00\x1b[31mred\x7f\u200e\u202e\ufeff",
    "x\x85Cause:        nothing",
]
# Line beginnings the payloads above would produce if their line breaks got through.
FORGED_STARTS = ("Query it in Athena:", 'SELECT * FROM "lake"."stolen"', "Bcc:", "Status:        SUCCEEDED", "Cause:        nothing", "rotate")


def assert_clean(text: str, attacker_lines: list[str]) -> None:
    """No control or format character, and no line of the product's own written by the attacker."""
    bad = [ch for ch in text if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp")]
    assert bad == [], bad
    for line in text.split("\n"):
        if any(marker in line for marker in ("stolen", "attacker@", "evil.example", "nothing")):
            # The stranger's text sits after one of the product's labels, never at a line start.
            assert not line.lstrip().startswith(FORGED_STARTS), line
            attacker_lines.append(line)


def success_state(name: str) -> dict:
    return {
        "job": JOB,
        "snapshot": {"snapshot_arn": "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:s1"},
        "export": {"export_task_identifier": "exp-1", "s3_bucket": "bucket", "s3_prefix": "exports/",
                   "warning_message": json.dumps({"skippedTables": [{"target": name, "reason": name}]})},
        "athena": {"database": "lake", "partial": True, "tables_created": 1, "sample_table": "demo_aurora_cluster__mydb__public__orders",
                   "missing_tables": [{"table": f"mydb.public.{name}", "reason": f"reason {name}"}], "report_uri": "s3://bucket/r.json"},
    }


@pytest.mark.parametrize("name", INJECTIONS)
def test_a_table_name_never_adds_a_line_to_the_success_notification(name: str) -> None:
    message = notifications.success_message(success_state(name), now=2000.0, workgroup="wg")
    attacker_lines: list[str] = []
    assert_clean(message["message"], attacker_lines)
    assert attacker_lines or "\\x1b[31mred" in message["message"]  # the name is shown, escaped
    assert [line for line in message["message"].split("\n") if line.lstrip().startswith("SELECT")] == [
        '  SELECT * FROM "lake"."demo_aurora_cluster__mydb__public__orders" LIMIT 10;']
    for attribute in message["attributes"].values():
        assert_clean(attribute["StringValue"], [])


def test_a_select_is_offered_only_for_a_name_the_stack_generated() -> None:
    state = success_state("t")
    state["athena"]["sample_table"] = 'x" ; DROP TABLE y; --\nQuery it'
    message = notifications.success_message(state, now=2000.0, workgroup="wg")
    assert "SELECT" not in message["message"]


@pytest.mark.parametrize("raw", INJECTIONS)
def test_a_refused_input_never_writes_a_line_or_an_attribute(raw: str) -> None:
    state = {"input": {"cluster_identifier": raw}, "execution_name": "run-1",
             "failure": {"step": "ValidateInput", "error": "InvalidInput\n\nSUCCEEDED", "cause": f"cluster_identifier: {raw}"}}
    message = notifications.failure_message(state)
    attacker_lines: list[str] = []
    assert_clean(message["message"], attacker_lines)
    assert "cluster" not in message["attributes"]
    for attribute in message["attributes"].values():
        assert_clean(attribute["StringValue"], [])
        assert attribute["StringValue"].isascii()
    assert "\n" not in message["subject"] and len(message["subject"]) <= 100


def test_a_long_name_is_cut_with_a_marker() -> None:
    message = notifications.success_message(success_state("t" * 5000), now=2000.0, workgroup="wg")
    line = next(line for line in message["message"].split("\n") if "tttt" in line)
    assert len(line) < 700 and "more characters]" in line


def test_a_multi_line_cause_stays_inside_the_cause_block() -> None:
    cause = "2 problems:\n- cluster_identifier: bad\nQuery it in Athena:"
    message = notifications.failure_message({"job": JOB, "failure": {"step": "CheckExport", "error": "ExportFailed", "cause": cause}})
    lines = message["message"].split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("Cause:"))
    assert lines[start + 1].startswith("              | - cluster_identifier") and lines[start + 2].startswith("              | Query")
