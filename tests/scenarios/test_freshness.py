"""Freshness per source: the marker a run leaves, and the scheduled fleet's stale sources.

The real export and fleet state machines in the emulated account, on its simulated clock: a source
whose last success is older than FreshnessAlarmHours (or that never exported) is named in
reports/freshness/latest.json and counted in the one metric StaleSources; a source that just
exported is not, and a run that catalogued no table never counts as a success.
"""

from __future__ import annotations

import io
import json
from typing import Any

from emulated_account import EmulatedAccount, ExportBehaviour, data

SCHEDULED = {"EnableSchedule": "true", "ScheduleTarget": "fleet", "ScheduleSnapshotSource": "latest-automated",
             "AllowedDBInstanceIdentifiers": "", "FreshnessAlarmHours": "26", "FleetMaxConcurrency": "1"}
SCHEDULED_RUN = {"scheduled": True, "use_latest_automated_snapshot": True}


def _json_object(emulated: EmulatedAccount, key: str) -> Any:
    return json.loads(emulated.client("s3").get_object(Bucket=emulated.bucket, Key=key)["Body"].read())


def _published(output: str, metric: str) -> list[float]:
    values: list[float] = []
    for line in output.splitlines():
        if line.startswith("{") and f'"{metric}"' in line:
            record = json.loads(line)
            if "_aws" in record:
                value = record[metric]
                values += value if isinstance(value, list) else [value]
    return values


def test_a_source_past_its_schedule_is_named_stale_and_a_source_that_just_exported_is_not() -> None:
    output = io.StringIO()
    # The first StartExportTask of the scheduled run fails: with one export at a time, the sources
    # go in the inventory's order, so it is demo-aurora-cluster's.
    with EmulatedAccount(parameters=SCHEDULED, handler_output=output, faults=["rds:StartExportTask:KMSKeyNotAccessibleFault:0"]) as emulated:
        first = emulated.run({"cluster_identifier": "demo-aurora-cluster"})  # a snapshot of its own: the fleet exports another
        assert first.status == "SUCCEEDED", first.cause
        marker = _json_object(emulated, f"state/last-success/{data.ACCOUNT_ID}/cluster/demo-aurora-cluster.json")
        exported_at = marker["succeeded_at"]
        emulated.clock.advance(30 * 3600)  # more than FreshnessAlarmHours later
        emulated.fault_plan.faults[0].count = 1
        result = emulated.run_fleet(SCHEDULED_RUN, name="nightly-30h")
        report = _json_object(emulated, "reports/freshness/latest.json")
        mysql = _json_object(emulated, f"state/last-success/{data.ACCOUNT_ID}/cluster/demo-mysql-cluster.json")
    assert marker["execution_arn"] == first.execution_arn and marker["tables_created"] == len(data.POSTGRES_TABLES)
    assert result.status == "FAILED" and result.error == "FleetExportFailed", result.cause
    # demo-aurora-cluster failed this time and last exported 30 hours ago: stale, by name.
    assert report["stale"] == [{"account": data.ACCOUNT_ID, "kind": "cluster", "identifier": "demo-aurora-cluster",
                                "last_success": exported_at, "hours_since": report["stale"][0]["hours_since"]}]
    assert 30 <= report["stale"][0]["hours_since"] < 31
    # demo-mysql-cluster exported in this run: fresh, and its marker says when.
    assert (report["sources_checked"], report["stale_count"], report["fleet_execution"]) == (2, 1, "nightly-30h")
    assert mysql["succeeded_at"] > exported_at
    # One metric for every source, and the names in the e-mail.
    assert _published(output.getvalue(), "StaleSources") == [1.0]
    message = result.notifications[-1]["message"]
    assert "Freshness:    1 of 2 sources stale (no export within 26 hours):" in message
    assert f"  demo-aurora-cluster (account {data.ACCOUNT_ID}): last exported" in message
    assert "demo-mysql-cluster (account" not in message


def test_an_export_that_catalogued_no_table_never_counts_as_fresh() -> None:
    output = io.StringIO()
    # Every export lists no table in its metadata: the runs succeed (PARTIAL) and catalogue nothing.
    empty = ExportBehaviour(tables_info=json.dumps({"perTableStatus": []}).encode())
    with EmulatedAccount(parameters=SCHEDULED, handler_output=output, export=empty) as emulated:
        result = emulated.run_fleet(SCHEDULED_RUN, name="nightly-empty")
        report = _json_object(emulated, "reports/freshness/latest.json")
        markers = emulated.client("s3").list_objects_v2(Bucket=emulated.bucket, Prefix="state/")
    assert result.status == "SUCCEEDED" and result.notifications[-1]["subject"].startswith("[aurora-lake] PARTIAL"), result.cause
    assert "Contents" not in markers
    assert sorted(entry["identifier"] for entry in report["stale"]) == ["demo-aurora-cluster", "demo-mysql-cluster"]
    assert all(entry["last_success"] is None for entry in report["stale"])
    assert "never exported" in result.notifications[-1]["message"]
    # Nor do the cluster freshness metrics count such a run.
    assert _published(output.getvalue(), "ExportsSucceeded") == []
    assert _published(output.getvalue(), "StaleSources") == [2.0]


def test_a_fleet_started_by_hand_checks_no_freshness() -> None:
    with EmulatedAccount(parameters=SCHEDULED) as emulated:
        result = emulated.run_fleet({"cluster_identifiers": ["demo-mysql-cluster"], "use_latest_automated_snapshot": True})
        reports = emulated.client("s3").list_objects_v2(Bucket=emulated.bucket, Prefix="reports/freshness/")
        markers = [o["Key"] for o in emulated.client("s3").list_objects_v2(Bucket=emulated.bucket, Prefix="state/")["Contents"]]
    assert result.status == "SUCCEEDED", result.cause
    assert "Contents" not in reports and "Freshness:" not in result.notifications[-1]["message"]
    # Its sources' successes still count for the next scheduled run.
    assert markers == [f"state/last-success/{data.ACCOUNT_ID}/cluster/demo-mysql-cluster.json"]
