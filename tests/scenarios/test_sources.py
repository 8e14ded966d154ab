"""Every source a team has: the cluster's data directly, and AWS Backup recovery points."""

from __future__ import annotations

import io

import json
from pathlib import Path
from typing import Any

from moto.events.models import EventPattern

from emulated_account import EmulatedAccount, ExportBehaviour
from emulated_account.account import AWS_BACKUP_SNAPSHOT, FORBIDDEN_AWS_BACKUP_SNAPSHOT

from .conftest import account, manual_snapshots, routed
from .test_triggers import _captured_logs

EVENTS = Path(__file__).resolve().parents[2] / "events"
SNAPSHOT_ARN = "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:"
CLUSTER_ARN = "arn:aws:rds:us-east-1:123456789012:cluster:"


def _event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def _start_other_export(emulated: EmulatedAccount, source_arn: str, name: str = "started-elsewhere") -> None:
    start = emulated.functions["StartExportFunction"].environment
    emulated.client("rds").start_export_task(
        ExportTaskIdentifier=name, SourceArn=source_arn, S3BucketName=start["EXPORT_BUCKET"],
        IamRoleArn=start["EXPORT_ROLE_ARN"], KmsKeyId=start["EXPORT_KMS_KEY_ARN"])


def _keys(emulated: EmulatedAccount, prefix: str) -> list[str]:
    pages = emulated.client("s3").get_paginator("list_objects_v2").paginate(Bucket=emulated.bucket, Prefix=prefix)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


# --- direct cluster export -----------------------------------------------------------------


def test_cluster_data_is_exported_directly_with_no_snapshot_at_all() -> None:
    given = _event("cluster-export.json")
    with account() as emulated:
        before = manual_snapshots(emulated)
        result = emulated.run(given)
        after = manual_snapshots(emulated)
        described = emulated.client("rds").describe_export_tasks()["ExportTasks"]
        [export] = result.export_tasks
        keys = _keys(emulated, f"exports/cluster_data/{export['id']}/")
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.snapshots_created == [] and before == after
    assert not {"CreateSnapshot", "CheckSnapshot", "WaitForSnapshot"} & set(result.states)
    assert export["source_arn"] == CLUSTER_ARN + "demo-aurora-cluster"
    assert export["source_type"] == "CLUSTER" and export["status"] == "COMPLETE"
    assert [task["SourceType"] for task in described] == ["CLUSTER"]
    # The same layout and metadata as a snapshot export: tables made queryable from them.
    assert f"exports/cluster_data/{export['id']}/export_info_{export['id']}.json" in keys
    assert any(key.endswith(".gz.parquet") and "/mydb/public.users/" in key for key in keys)
    assert any(query.startswith("SELECT count(*)") and "__mydb__public__" in query for query in result.athena_queries)
    [notification] = result.notifications
    assert "Source:        " + CLUSTER_ARN + "demo-aurora-cluster" in notification["message"]
    assert "Snapshot cleanup" not in notification["message"]


def test_cluster_export_waits_for_a_running_snapshot_export_of_the_same_cluster() -> None:
    with account(export=ExportBehaviour(duration_seconds=1800)) as emulated:
        _start_other_export(emulated, SNAPSHOT_ARN + "rds:demo-aurora-cluster-2026-11-01-03-10")
        result = emulated.run({"cluster_identifier": "demo-aurora-cluster", "export_cluster_directly": True})
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    other, own = sorted(result.export_tasks, key=lambda task: task["started_at"])
    assert other["id"] == "started-elsewhere"
    # One export of a cluster at a time, whatever the source: this one starts once the other has ended.
    assert own["source_type"] == "CLUSTER" and own["started_at"] >= other["ends_at"]


def test_snapshot_export_waits_for_a_running_direct_export_of_the_same_cluster() -> None:
    with account(export=ExportBehaviour(duration_seconds=1800)) as emulated:
        _start_other_export(emulated, CLUSTER_ARN + "demo-aurora-cluster")
        result = emulated.run(_event("latest-automated-snapshot.json"))
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    other, own = sorted(result.export_tasks, key=lambda task: task["started_at"])
    assert other["source_type"] == "CLUSTER" and own["source_type"] == "SNAPSHOT"
    assert own["started_at"] >= other["ends_at"]


def test_a_second_direct_export_of_a_running_cluster_is_refused_by_rds() -> None:
    with account() as emulated:
        _start_other_export(emulated, CLUSTER_ARN + "demo-mysql-cluster")
        try:
            _start_other_export(emulated, CLUSTER_ARN + "demo-mysql-cluster", name="second")
        except emulated.client("rds").exceptions.ClientError as error:
            code = error.response["Error"]["Code"]
        else:
            code = None
    assert code == "InvalidExportSourceState"


def test_cluster_export_of_a_cluster_that_is_not_allowed_creates_nothing() -> None:
    with account() as emulated:
        result = emulated.run({"cluster_identifier": "forbidden-cluster", "export_cluster_directly": True})
        rds_calls = [call for call in emulated.calls.calls if call.service == "rds"]
    assert result.status == "FAILED" and result.error == "ClusterNotAllowed"
    assert result.export_tasks == [] and rds_calls == []
    [notification] = result.notifications
    assert "forbidden-cluster" in notification["message"]


def test_cluster_export_failure_ends_failed_and_deletes_nothing() -> None:
    behaviour = ExportBehaviour(outcome="failed", failure_cause="The export failed while cloning the cluster.")
    with account(export=behaviour) as emulated:
        before = manual_snapshots(emulated)
        result = emulated.run(_event("cluster-export.json"))
        after = manual_snapshots(emulated)
        deletes = [call for call in emulated.calls.calls if call.operation == "DeleteDBClusterSnapshot"]
    assert result.status == "FAILED" and result.error == "ExportFailed"
    assert "cloning the cluster" in (result.cause or "")
    assert before == after and deletes == []
    [notification] = result.notifications
    assert "Failed step:  CheckExport" in notification["message"]


def test_bad_cluster_export_inputs_list_every_problem_and_create_nothing() -> None:
    given = {"snapshot_arn": SNAPSHOT_ARN + "demo-aurora-cluster-manual-2026-11-01", "export_cluster_directly": "yes",
             "delete_snapshot_after_export": True, "exportClusterDirectly": True}
    with account() as emulated:
        result = emulated.run(given)
        rds_calls = [call for call in emulated.calls.calls if call.service == "rds"]
    assert result.status == "FAILED" and result.error == "InvalidInput"
    cause = result.cause or ""
    assert "export_cluster_directly: must be a JSON boolean" in cause
    assert "exportClusterDirectly: unknown key; did you mean export_cluster_directly?" in cause
    assert "delete_snapshot_after_export: can be true only" in cause
    assert rds_calls == [] and result.export_tasks == [] and result.snapshots_created == []


# --- AWS Backup recovery points ------------------------------------------------------------

BACKUP_POINT = SNAPSHOT_ARN + AWS_BACKUP_SNAPSHOT


def test_aws_backup_recovery_point_is_exported_after_its_own_cluster_is_read_and_never_deleted() -> None:
    given = _event("aws-backup-snapshot.json")
    with account() as emulated:
        before = emulated.client("rds").describe_db_cluster_snapshots(SnapshotType="awsbackup")["DBClusterSnapshots"]
        result = emulated.run(given)
        after = emulated.client("rds").describe_db_cluster_snapshots(SnapshotType="awsbackup")["DBClusterSnapshots"]
        described = [call.params for call in emulated.calls.calls
                     if call.caller == "CheckSnapshotFunction" and call.operation == "DescribeDBClusterSnapshots"]
        deletes = [call for call in emulated.calls.calls if call.operation == "DeleteDBClusterSnapshot"]
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert given["snapshot_arn"] == BACKUP_POINT
    assert result.snapshots_created == [] and deletes == [] and len(after) == len(before) == 2
    # The cluster is read from the snapshot itself, never guessed from its name.
    assert described and all(params["DBClusterSnapshotIdentifier"] == AWS_BACKUP_SNAPSHOT for params in described)
    [export] = result.export_tasks
    assert export["source_arn"] == BACKUP_POINT and export["source_type"] == "SNAPSHOT" and export["status"] == "COMPLETE"
    assert "Cluster:       demo-aurora-cluster" in result.notifications[-1]["message"]


def test_aws_backup_recovery_point_of_a_cluster_that_is_not_allowed_is_refused_before_export() -> None:
    with account() as emulated:
        result = emulated.run({"snapshot_arn": SNAPSHOT_ARN + FORBIDDEN_AWS_BACKUP_SNAPSHOT})
        starts = [call for call in emulated.calls.calls if call.operation == "StartExportTask"]
    assert result.status == "FAILED" and result.error == "ClusterNotAllowed"
    assert "forbidden-cluster" in (result.cause or "")
    assert starts == [] and result.export_tasks == [] and result.snapshots_created == []


def test_a_missing_recovery_point_fails_naming_it() -> None:
    missing = "awsbackup:job-00000000-0000-4000-8000-000000000000"
    with account() as emulated:
        result = emulated.run({"snapshot_arn": SNAPSHOT_ARN + missing})
    assert result.status == "FAILED" and result.error == "DBClusterSnapshotNotFoundFault"
    assert missing in (result.cause or "") and result.export_tasks == []


def _backup_rule(emulated: EmulatedAccount) -> dict[str, Any]:
    assert emulated.template.is_created("AwsBackupJobCompletedRule")
    return emulated.template.resolve(emulated.template.resources["AwsBackupJobCompletedRule"]["Properties"])


def test_aws_backup_trigger_is_off_by_default() -> None:
    from emulated_account.template import Template

    template = Template(EVENTS.parent / "template.yaml", parameters={"AllowedClusterIdentifiers": "demo-aurora-cluster"})
    assert not template.is_created("AwsBackupJobCompletedRule") and not template.is_created("RouteTriggerFunction")


def test_completed_aws_backup_job_event_exports_its_recovery_point() -> None:
    event = _event("aws-backup-job-completed-event.json")
    with EmulatedAccount(parameters={"EnableAwsBackupTrigger": "true", "AllowedDBInstanceIdentifiers": ""}) as emulated:
        rule = _backup_rule(emulated)
        pattern = EventPattern(None, rule["EventPattern"])
        assert pattern.matches_event(event)
        # A DB instance's backup ("RDS") is taken only when DB instances are allowed (see test_db_instances).
        for other in ({"state": "FAILED"}, {"state": "RUNNING"}, {"resourceType": "RDS"}, {"resourceType": "EFS"}):
            assert not pattern.matches_event({**event, "detail": {**event["detail"], **other}}), other
        [delivery], result = routed(emulated, event)
        started = emulated.client("stepfunctions").describe_execution(executionArn=delivery.result["execution_arn"])
    assert delivery.rule == "AwsBackupJobCompletedRule"
    assert json.loads(started["input"]) == {"aws_backup_job": event["detail"], "trigger": "aws-backup"}
    assert result is not None and result.status == "SUCCEEDED", (result.error, result.cause)
    [export] = result.export_tasks
    assert export["source_arn"] == event["detail"]["recoveryPointArn"] == BACKUP_POINT
    assert result.snapshots_created == []


def test_aws_backup_job_of_another_cluster_is_counted_and_logged_never_notified() -> None:
    event = _event("aws-backup-job-completed-event.json")
    event["detail"]["recoveryPointArn"] = SNAPSHOT_ARN + FORBIDDEN_AWS_BACKUP_SNAPSHOT
    output, log_lines = io.StringIO(), io.StringIO()
    with EmulatedAccount(parameters={"EnableAwsBackupTrigger": "true"}, handler_output=output) as emulated, _captured_logs(log_lines):
        # A recovery point's name carries no cluster: the router starts the export, which reads the
        # recovery point's own cluster and ends quietly.
        _, result = routed(emulated, event)
        starts = [call for call in emulated.calls.calls if call.operation == "StartExportTask"]
    assert result is not None and result.status == "SUCCEEDED" and result.states[-1] == "TriggerIgnored", (result.error, result.cause)
    assert result.export_tasks == [] and starts == [] and result.notifications == []
    assert "forbidden-cluster" in log_lines.getvalue() and "TriggersIgnored" in output.getvalue()


def test_bad_aws_backup_job_inputs_list_every_problem_and_create_nothing() -> None:
    detail = _event("aws-backup-job-completed-event.json")["detail"]
    given = {"aws_backup_job": {**{k: v for k, v in detail.items() if k != "recoveryPointArn"}, "state": "FAILED"},
             "cluster_identifier": "demo-aurora-cluster"}
    with account() as emulated:
        result = emulated.run(given)
        rds_calls = [call for call in emulated.calls.calls if call.service == "rds"]
    assert result.status == "FAILED" and result.error == "InvalidInput"
    cause = result.cause or ""
    assert "aws_backup_job.recoveryPointArn: is missing" in cause
    assert "aws_backup_job.state: must be 'COMPLETED'" in cause
    assert "input: give exactly one of cluster_identifier" in cause
    assert rds_calls == [] and result.export_tasks == []
