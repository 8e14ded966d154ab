"""The `make demo` command-line contract of the runner."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from emulated_account import runner


@pytest.mark.parametrize(
    "argv",
    [
        ["--fault", "rds:CreateDBClusterSnapshot:Throttling"],
        ["--fault", "rds:NoSuchOperation:Throttling:1"],
        ["--export-outcome", "exploded"],
        ["--export-duration", "-5"],
        ["--input", "/nonexistent/input.json"],
        ["--export-tables-info", "/nonexistent/tables.json"],
        ["--no-such-option"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        runner.main(argv)
    assert exited.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_input_that_is_not_json_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "input.json"
    bad.write_text("{not json")
    with pytest.raises(SystemExit) as exited:
        runner.main(["--input", str(bad)])
    assert exited.value.code == 2


def test_elapsed_time_format() -> None:
    assert runner.format_elapsed(180) == "+00:03:00"
    assert runner.format_elapsed(90061) == "+25:01:01"


def test_email_body_of_a_json_message_structure() -> None:
    assert runner.email_body(json.dumps({"default": "d", "email": "for e-mail"})) == "for e-mail"
    assert runner.email_body("plain text") == "plain text"


def test_demo_run_prints_states_notification_and_a_json_last_line() -> None:
    out = io.StringIO()
    code = runner.main(["--json", "--export-duration", "1800"], stdout=out)
    lines = out.getvalue().splitlines()
    summary = json.loads(lines[-1])
    assert code == (0 if summary["status"] == "SUCCEEDED" else 1)
    assert set(summary) == {
        "status",
        "error",
        "cause",
        "states",
        "state_transitions",
        "simulated_seconds",
        "snapshots_created",
        "export_tasks",
        "athena_queries",
        "notifications",
    }
    assert lines[0] == f"[+00:00:00] {summary['states'][0]}"
    assert any(line.startswith("Subject: ") for line in lines)
    assert summary["simulated_seconds"] >= 1800
    assert summary["export_tasks"] and {"id", "source_arn", "status", "export_only"} <= set(summary["export_tasks"][0])


@pytest.mark.parametrize("text", ['"demo-aurora-cluster"', "42", "-0.5e3", "true", "false", "[]", '[{"cluster_identifier": "demo-aurora-cluster"}]', "null"])
def test_any_json_text_that_is_not_an_object_ends_failed_with_invalid_input(text: str, tmp_path: Path) -> None:
    """Step Functions accepts any JSON text as execution input; the workflow refuses all but objects."""
    given = tmp_path / "input.json"
    given.write_text(text)
    out = io.StringIO()
    code = runner.main(["--json", "--input", str(given)], stdout=out)
    summary = json.loads(out.getvalue().splitlines()[-1])
    assert code == 1
    assert (summary["status"], summary["error"]) == ("FAILED", "InvalidInput")
    assert "must be a JSON object" in summary["cause"]
    assert len(summary["notifications"]) == 1 and "InvalidInput" in summary["notifications"][0]["message"]
    assert summary["snapshots_created"] == [] and summary["export_tasks"] == [] and summary["athena_queries"] == []


# Python's json module alone would accept NaN and Infinity, which JSON (and Step Functions) does not.
@pytest.mark.parametrize("raw", [b"", b"{not json", b"demo-aurora-cluster", b'{"a": 1} {"b": 2}', b"NaN", b'{"x": -Infinity}', b"\xff\xfe{}"])
def test_input_that_is_not_json_is_a_one_line_usage_error(raw: bytes, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "input.json"
    bad.write_bytes(raw)
    with pytest.raises(SystemExit) as exited:
        runner.main(["--input", str(bad)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    [message] = [line for line in err.splitlines() if "error:" in line]
    assert f"--input: {bad} is not valid JSON" in message
