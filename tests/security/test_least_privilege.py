"""Least privilege, proven both ways against the template as CloudFormation deploys it.

Representative workflows run in the emulated account, which records every AWS call each
handler (and the state machine) makes. The template is translated with the SAM transform,
each role's policies are resolved for the emulated deployment (same parameters, same names
and ARNs), and a small IAM evaluator (``iam_policy``) judges:

1. every recorded call is allowed by its caller's role, on the exact ARN it targets, and so is
   what AWS services do with the caller's credentials because of that call (S3 and SNS using
   the KMS key, RDS creating a key grant and passing the export role, Athena running DDL);
2. every action on every resource a role is granted is used by some run, apart from what AWS
   uses on the role's behalf outside any handler call, each listed below with its reason.
"""

from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest

from aurora_lake import naming
from emulated_account import EmulatedAccount, ExportBehaviour, data
from emulated_account.account import AWS_BACKUP_SNAPSHOT, DB_AWS_BACKUP_SNAPSHOT, EXISTING_SNAPSHOTS, EXPORT_STATE_MACHINE, FLEET_STATE_MACHINE
from emulated_account.faults import STATE_MACHINE, CallRecord
from tools.cfn_resolve import Resolver
from tools.sam_translate import REPO_ROOT, translate

from .iam_policy import Policy, Request, Statement, as_list

EVENTS = REPO_ROOT / "events"
ALLOWED = ("demo-aurora-cluster", "demo-mysql-cluster")
ALLOWED_INSTANCES = data.ALLOWED_DB_INSTANCES
EXPORT_ROLE = "ExportRole"  # assumed by RDS, which writes the export with it


def _event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@dataclass(frozen=True)
class Run:
    name: str
    execution_input: dict[str, Any]
    status: str
    error: str | None = None
    # Snapshots whose exports (by someone else) are already running when this run starts: a
    # cluster snapshot's name, or a snapshot's whole ARN (a DB snapshot's).
    running_exports: tuple[str, ...] = ()
    # The files of the earlier exports are gone (expired or deleted) when this run starts.
    earlier_exports_gone: bool = False
    state_machine: str = EXPORT_STATE_MACHINE
    # An event on the lake's bus instead of an input: its rule's target (the trigger router) starts the run.
    event: dict[str, Any] | None = None


@dataclass(frozen=True)
class Scenario:
    """Runs one after the other in one emulated account (setting an account up is the slow part)."""

    runs: tuple[Run, ...]
    options: dict[str, Any] = field(default_factory=dict)
    execution_name: str | None = None


_SNAPSHOT_ARN = "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:"
_DB_SNAPSHOT_ARN = "arn:aws:rds:us-east-1:123456789012:snapshot:"
# Each run reaches steps or calls the others do not; together they reach every step.
SCENARIOS = (
    Scenario((
        Run("new snapshot, exported and deleted", _event("new-snapshot.json"), "SUCCEEDED"),
        # A second export of the cluster is a second snapshot of the tables the first one created, and
        # finds another export of the cluster running (of an automated snapshot) and waits for it.
        Run("existing manual snapshot, an export of an automated snapshot running",
            {"snapshot_arn": _SNAPSHOT_ARN + "demo-aurora-cluster-manual-2026-11-01"}, "SUCCEEDED",
            running_exports=("rds:demo-aurora-cluster-2026-10-31-03-10",)),
        # The first two exports' files are gone: their snapshots leave the tables.
        Run("existing automated snapshot, an export of a manual snapshot running", _event("existing-snapshot.json"), "SUCCEEDED",
            running_exports=("demo-aurora-cluster-manual-2026-11-01",), earlier_exports_gone=True),
        Run("latest automated snapshot of the MySQL cluster",
            {"cluster_identifier": "demo-mysql-cluster", "use_latest_automated_snapshot": True}, "SUCCEEDED"),
        # The cluster's data directly, while an export of the cluster's AWS Backup recovery point runs. The
        # earlier exports' files are gone again: the MySQL cluster's tables lose their only snapshot and go.
        Run("direct cluster export, an export of an AWS Backup recovery point running", _event("cluster-export.json"), "SUCCEEDED",
            running_exports=(AWS_BACKUP_SNAPSHOT,), earlier_exports_gone=True),
        Run("AWS Backup recovery point", _event("aws-backup-snapshot.json"), "SUCCEEDED"),
        Run("bad input", _event("invalid-input.json"), "FAILED", "InvalidInput"),
        Run("cluster not allowed", _event("forbidden-cluster.json"), "FAILED", "ClusterNotAllowed"),
        # DB instances: each kind of DB snapshot, each finding another running export of a DB snapshot.
        Run("new DB snapshot of the MariaDB instance, an export of an AWS Backup DB snapshot running", _event("db-instance.json"),
            "SUCCEEDED", running_exports=(_DB_SNAPSHOT_ARN + DB_AWS_BACKUP_SNAPSHOT,)),
        Run("existing manual DB snapshot, an export of an automated DB snapshot running",
            {"snapshot_arn": _DB_SNAPSHOT_ARN + "demo-mysql-db-manual-2026-11-01"}, "SUCCEEDED",
            running_exports=(_DB_SNAPSHOT_ARN + "rds:demo-postgres-db-2026-10-31-04-20",)),
        Run("latest automated DB snapshot, an export of a manual DB snapshot running", _event("db-instance-latest-automated-snapshot.json"),
            "SUCCEEDED", running_exports=(_DB_SNAPSHOT_ARN + "demo-mysql-db-manual-2026-11-01",)),
        Run("AWS Backup DB snapshot", _event("db-instance-aws-backup-snapshot.json"), "SUCCEEDED"),
        Run("existing automated DB snapshot", _event("db-instance-automated-snapshot.json"), "SUCCEEDED"),
        Run("DB instance not allowed", _event("forbidden-db-instance.json"), "FAILED", "DBInstanceNotAllowed"),
        Run("DB instance RDS cannot export", _event("db-instance-custom-engine.json"), "FAILED", "SourceCannotExport"),
    ), options={"clock_start": time.time() + 3600}),  # moto dates S3 objects by the wall clock: the
    # ledger of exports must not look younger than the simulated runs that wrote it.
    Scenario((Run("partial export, snapshot kept", _event("partial-export.json"), "SUCCEEDED"),),
             options={"export": ExportBehaviour(skipped_tables=("mydb.public.bad table",))}),
    Scenario((Run("failed export, snapshot cleaned up", _event("new-snapshot.json"), "FAILED", "ExportFailed"),
              Run("failed export, DB snapshot cleaned up", _event("db-instance.json"), "FAILED", "ExportFailed")),
             options={"export": ExportBehaviour(outcome="failed", failure_cause="S3 credential check failed")}),
    # A fleet: one export execution per cluster through startExecution.sync:2; the refused cluster fails the run.
    Scenario((Run("fleet of an allowed and a refused cluster", {**_event("fleet.json"), "cluster_identifiers": ["demo-mysql-cluster", "forbidden-cluster"]},
                  "FAILED", "FleetExportFailed", state_machine=FLEET_STATE_MACHINE),
              Run("fleet input refused and notified", {"cluster_identifiers": "demo-mysql-cluster"}, "FAILED", "InvalidInput",
                  state_machine=FLEET_STATE_MACHINE))),
    # A snapshot event through the trigger router, then a scheduled fleet that checks freshness
    # (the first run's source has a marker to read, the other none).
    Scenario((Run("snapshot event, started by the trigger router", {}, "SUCCEEDED", event=_event("rds-cluster-snapshot-created-event.json")),
              Run("scheduled fleet with its freshness check", {"scheduled": True, "use_latest_automated_snapshot": True}, "SUCCEEDED",
                  state_machine=FLEET_STATE_MACHINE)),
             options={"parameters": {"EnableSnapshotEventTrigger": "true", "EnableAwsBackupTrigger": "true", "AllowedDBInstanceIdentifiers": ""}}),
    # A redriven or retried step finds the snapshot its execution already took, and adopts it.
    Scenario((Run("transient faults retried, snapshot adopted", _event("new-snapshot.json"), "SUCCEEDED"),),
             options={"faults": ["rds:StartExportTask:ThrottlingException:1", "lambda:Invoke:TooManyRequestsException:1"],
                      "existing_snapshots": (*EXISTING_SNAPSHOTS,
                                             ("demo-aurora-cluster", naming.snapshot_identifier("demo-aurora-cluster", "lp-adopt"), "manual"))},
             execution_name="lp-adopt"),
    Scenario((Run("DB snapshot adopted", _event("db-instance.json"), "SUCCEEDED"),),
             options={"existing_db_snapshots": (("demo-mariadb-db", naming.snapshot_identifier("demo-mariadb-db", "lp-adopt-db"), "manual"),)},
             execution_name="lp-adopt-db"),
)

# Granted actions no handler call makes, because AWS uses them on the role's behalf.
LAMBDA_RUNTIME_USE = {
    "logs:CreateLogStream": "the Lambda service writes the function's logs with its execution role",
    "logs:PutLogEvents": "the Lambda service writes the function's logs with its execution role",
    "xray:PutTraceSegments": "Lambda's X-Ray integration (Tracing: Active) sends traces with the execution role",
    "xray:PutTelemetryRecords": "Lambda's X-Ray integration (Tracing: Active) sends telemetry with the execution role",
}
STATE_MACHINE_SERVICE_USE = {
    **{action: "Step Functions sets up and maintains log delivery to the state machine's log group with its role"
       for action in ("logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
                      "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies",
                      "logs:DescribeLogGroups")},
    **{action: "Step Functions' X-Ray tracing sends traces and reads sampling rules with the state machine's role"
       for action in ("xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets")},
}
SERVICE_USE: dict[str, dict[str, str]] = {
    "ExportStateMachineRole": STATE_MACHINE_SERVICE_USE,
    "FleetStateMachineRole": {
        **STATE_MACHINE_SERVICE_USE,
        # states:stopExecution is used only when a fleet run is stopped while its sources' runs go on.
        "states:StopExecution": "Step Functions stops the running child executions (accounts, and their sources' exports) "
                                "of a fleet run that is stopped",
        # The emulated account runs a Distributed Map's children in process (FIDELITY.md, Step Functions).
        "states:StartExecution": "Step Functions starts the Distributed Map's child execution of each account with the state "
                                 "machine's role (the export executions it starts are judged as calls)",
        "states:DescribeExecution": "Step Functions follows the Distributed Map's child executions and the export executions "
                                    "of startExecution.sync:2 with the state machine's role",
        **{action: "the ResultWriter uploads a large result file in parts and aborts an unfinished upload (aws-cdk's "
                   "ResultWriter grants; the emulated results are written whole)"
           for action in ("s3:ListMultipartUploadParts", "s3:AbortMultipartUpload")},
        **{action: "Step Functions keeps the managed rule StepFunctionsGetEventsForStepFunctionsExecutionRule, which "
                   "tells a startExecution.sync:2 task that its execution ended, with the state machine's role"
           for action in ("events:PutTargets", "events:PutRule", "events:DescribeRule")},
    },
    "RouteTriggerRole": {
        **LAMBDA_RUNTIME_USE,
        "sqs:SendMessage": "Lambda sends an event the router kept failing on (a forged one, or a start refused past the "
                           "retries) to the function's dead-letter queue with its execution role",
    },
    "WakeExportWaitRole": {
        **LAMBDA_RUNTIME_USE,
        "sqs:SendMessage": "Lambda sends an event whose asynchronous invocation kept failing to the function's "
                           "dead-letter queue with its execution role (no run here fails three times)",
    },
    EXPORT_ROLE: {
        **{action: "RDS snapshot export's documented requirement on the bucket: it locates, lists and reads back the "
                   "bucket with the export role (the emulated export writes its files without these checks)"
           for action in ("s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject*", "s3:DeleteObject*")},
        **{action: "RDS snapshot export's documented requirement on the key: the export encrypts and verifies "
                   "its files with the export role (the emulated export writes them without KMS)"
           for action in ("kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:DescribeKey")},
    },
}

# Granted and needed, but out of the emulated account's reach; each is a gap of the emulation.
NOT_REACHABLE_IN_EMULATION: dict[tuple[str, str], str] = {
    ("CreateAthenaTablesRole", "glue:BatchDeleteTable"): (
        "dropping the 2.x versioned tables of expired exports: no run of this release creates one "
        "(the retention unit tests cover the call on 2.x ledger entries)"),
    ("CreateAthenaTablesRole", "rds:DescribeExportTasks"): (
        "reading the source snapshot's time of a run started before an upgrade: every run here records it in its state "
        "(the catalog unit tests cover the call)"),
}


# --- the deployment's facts the calls are judged against ---------------------------------


@dataclass
class Deployment:
    account: EmulatedAccount
    cfn: dict[str, Any]

    def __post_init__(self) -> None:
        template = self.account.template
        self.region, self.account_id = template.region, template.account_id
        self.resolver = Resolver(self.cfn, dict(template.parameters), self._physical, region=self.region,
                                 account=self.account_id, stack_name=template.stack_name)
        resources = self.cfn["Resources"]
        bucket = self.resolver.resolve(resources["ExportBucket"]["Properties"])
        self.bucket_key = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]
        self.topic_key = self.resolver.resolve(resources["NotificationTopic"]["Properties"])["KmsMasterKeyId"]
        workgroup = self.resolver.resolve(resources["AthenaWorkGroup"]["Properties"])
        results = workgroup["WorkGroupConfiguration"]["ResultConfiguration"]
        self.results_location = results["OutputLocation"]
        self.results_key = results["EncryptionConfiguration"]["KmsKey"]
        self.query_workgroups = {q.query_id: q.workgroup for q in self.account.athena.queries}

    def _physical(self, logical_id: str, attribute: str | None) -> Any:
        template = self.account.template
        return template.ref(logical_id) if attribute is None else template.get_att(logical_id, attribute)

    def role_of(self, caller: str) -> str:
        """The logical id of the role a caller's calls are made with."""
        if caller == EXPORT_ROLE:
            return EXPORT_ROLE
        resources = self.cfn["Resources"]
        if caller == STATE_MACHINE:
            return resources[EXPORT_STATE_MACHINE]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
        if resources.get(caller, {}).get("Type") == "AWS::StepFunctions::StateMachine":
            return resources[caller]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
        return resources[caller]["Properties"]["Role"]["Fn::GetAtt"][0]

    def policies(self, role: str) -> list[dict[str, Any]]:
        """Every policy document attached to ``role`` (inline and standalone), resolved."""
        resources = self.cfn["Resources"]
        properties = resources[role]["Properties"]
        # The only managed policy a role may carry is the stack's network-interface policy, with the functions' VPC.
        managed = self.resolver.resolve({"arns": properties.get("ManagedPolicyArns") or []}).get("arns")
        assert not managed, f"{role} has managed policies this test cannot read"
        documents = [self.resolver.resolve(p["PolicyDocument"]) for p in properties.get("Policies", [])]
        for logical_id, resource in resources.items():
            if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy") and self.resolver.resource_exists(logical_id):
                if {"Ref": role} in resource["Properties"].get("Roles", []):
                    documents.append(self.resolver.resolve(resource["Properties"]["PolicyDocument"]))
        return documents

    # ARNs
    def rds(self, kind: str, name: str) -> str:
        return name if name.startswith("arn:") else f"arn:aws:rds:{self.region}:{self.account_id}:{kind}:{name}"

    def glue(self, database: str, table: str | None = None) -> list[str]:
        base = f"arn:aws:glue:{self.region}:{self.account_id}"
        arns = [f"{base}:catalog", f"{base}:database/{database}"]
        return arns + ([f"{base}:table/{database}/{table}"] if table else [])

    def workgroup(self, name: str) -> str:
        return f"arn:aws:athena:{self.region}:{self.account_id}:workgroup/{name}"


_DDL = re.compile(r"^\s*(CREATE EXTERNAL TABLE(?: IF NOT EXISTS)?|DROP TABLE(?: IF EXISTS)?|ALTER TABLE)\s+`?(\w+)`?\.`?(\w+)`?", re.I)
_SELECT = re.compile(r'^\s*SELECT\b.*?\bFROM\s+"(\w+)"\."(\w+)"\s+FOR VERSION AS OF\s+\d+\s*$', re.I | re.S)
# What Athena does in the Glue Data Catalog, with the caller's credentials, to run each DDL statement.
_DDL_GLUE_ACTIONS = {"CREATE": ("glue:GetDatabase", "glue:GetTable", "glue:CreateTable"),
                     "DROP": ("glue:GetDatabase", "glue:GetTable", "glue:DeleteTable"),
                     "ALTER": ("glue:GetDatabase", "glue:GetTable", "glue:UpdateTable")}


def requests_for(call: CallRecord, d: Deployment) -> list[Request]:
    """The authorizations a recorded call needs: its own action on the ARNs it names, and what AWS
    then does with the caller's credentials. An operation not listed here fails the test."""
    p, op, why = call.params, call.operation, f"{call.service}:{call.operation}"

    def req(action: str, resources: str | list[str], context: dict[str, str] | None = None, note: str = "") -> list[Request]:
        reason = f"{why}, {note}" if note else why
        # aws:RequestedRegion is in every request's context: the Region the call is sent to.
        return [Request(action, r, {"aws:RequestedRegion": d.region, **(context or {})}, reason) for r in as_list(resources)]

    if call.service == "lambda" and op == "Invoke":
        name = p["FunctionName"]
        arn = name if name.startswith("arn:") else f"arn:aws:lambda:{d.region}:{d.account_id}:function:{name}"
        return req("lambda:InvokeFunction", arn)
    if call.service == "rds":
        if op == "CreateDBClusterSnapshot":
            snapshot = d.rds("cluster-snapshot", p["DBClusterSnapshotIdentifier"])
            needed = req("rds:CreateDBClusterSnapshot", [d.rds("cluster", p["DBClusterIdentifier"]), snapshot])
            if p.get("Tags"):  # tags given on create are authorized as AddTagsToResource
                needed += req("rds:AddTagsToResource", snapshot, note="tags on create")
            return needed
        if op in ("DescribeDBClusterSnapshots", "DeleteDBClusterSnapshot"):
            arns = ([d.rds("cluster-snapshot", p["DBClusterSnapshotIdentifier"])] if "DBClusterSnapshotIdentifier" in p else []) + (
                [d.rds("cluster", p["DBClusterIdentifier"])] if "DBClusterIdentifier" in p else [])
            return req(f"rds:{op}", arns or ["*"])
        if op == "CreateDBSnapshot":
            snapshot = d.rds("snapshot", p["DBSnapshotIdentifier"])
            needed = req("rds:CreateDBSnapshot", [d.rds("db", p["DBInstanceIdentifier"]), snapshot])
            if p.get("Tags"):
                needed += req("rds:AddTagsToResource", snapshot, note="tags on create")
            return needed
        if op in ("DescribeDBSnapshots", "DeleteDBSnapshot"):
            arns = ([d.rds("snapshot", p["DBSnapshotIdentifier"])] if "DBSnapshotIdentifier" in p else []) + (
                [d.rds("db", p["DBInstanceIdentifier"])] if "DBInstanceIdentifier" in p else [])
            return req(f"rds:{op}", arns or ["*"])
        if op == "DescribeDBInstances":
            return req("rds:DescribeDBInstances", d.rds("db", p["DBInstanceIdentifier"]) if "DBInstanceIdentifier" in p else "*")
        if op == "DescribeExportTasks":
            return req("rds:DescribeExportTasks", "*")
        if op == "StartExportTask":
            return (req("rds:StartExportTask", p["SourceArn"])
                    + req("iam:PassRole", p["IamRoleArn"], note="the export role handed to RDS")
                    + req("kms:DescribeKey", p["KmsKeyId"], note="RDS checks the key with the caller's credentials")
                    + req("kms:CreateGrant", p["KmsKeyId"], {"kms:GrantIsForAWSResource": "true"},
                          note="RDS creates the export's key grant with the caller's credentials"))
    if call.service == "stepfunctions":
        if op == "StartExecution":
            return req("states:StartExecution", p["stateMachineArn"])
        if op in ("DescribeExecution", "StopExecution"):
            return req(f"states:{op}", p["executionArn"])
    if call.service == "s3":
        bucket = f"arn:aws:s3:::{p['Bucket']}"
        if op == "ListObjectsV2":
            return req("s3:ListBucket", bucket, {"s3:prefix": p.get("Prefix", "")})
        if op in ("GetObject", "HeadObject"):
            return req("s3:GetObject", f"{bucket}/{p['Key']}") + req("kms:Decrypt", d.bucket_key, note="S3 decrypts the SSE-KMS object")
        if op == "DeleteObject":
            return req("s3:DeleteObject", f"{bucket}/{p['Key']}")
        if op == "PutObject":
            return req("s3:PutObject", f"{bucket}/{p['Key']}") + req("kms:GenerateDataKey", d.bucket_key, note="S3 encrypts with SSE-KMS")
    if call.service == "stepfunctions" and op == "SendTaskSuccess":
        # A task token names no resource: the IAM reference gives the action no resource type.
        return req("states:SendTaskSuccess", "*")
    if call.service == "sns" and op == "Publish":
        return (req("sns:Publish", p["TopicArn"])
                + req("kms:GenerateDataKey", d.topic_key, note="SNS encrypts the message for the KMS-encrypted topic")
                + req("kms:Decrypt", d.topic_key, note="SNS encrypts the message for the KMS-encrypted topic"))
    if call.service == "athena":
        if op == "StartQueryExecution":
            return _athena_query(p, d, req)
        if op == "GetQueryExecution":
            return req("athena:GetQueryExecution", d.workgroup(d.query_workgroups[p["QueryExecutionId"]]))
        if op == "BatchGetQueryExecution":
            return [r for qid in p["QueryExecutionIds"] for r in req("athena:BatchGetQueryExecution", d.workgroup(d.query_workgroups[qid]))]
        if op == "GetQueryResults":
            return req("athena:GetQueryResults", d.workgroup(d.query_workgroups[p["QueryExecutionId"]]))
    if call.service == "glue":
        if op in ("CreateTable", "UpdateTable"):
            return req(f"glue:{op}", d.glue(p["DatabaseName"], p["TableInput"]["Name"]))
        if op in ("GetTable", "DeleteTable"):
            return req(f"glue:{op}", d.glue(p["DatabaseName"], p["Name"]))
        if op == "GetDatabase":
            return req("glue:GetDatabase", d.glue(p["Name"]))
        if op == "GetTables":
            return req("glue:GetTables", d.glue(p["DatabaseName"], "*"))
        if op == "BatchDeleteTable":
            return [r for name in p["TablesToDelete"] for r in req("glue:BatchDeleteTable", d.glue(p["DatabaseName"], name))]
    raise AssertionError(f"{call.caller} made {call.service}:{op}, which this test does not know how to authorize: add it")


def _athena_query(p: dict[str, Any], d: Deployment, req: Any) -> list[Request]:
    needed = req("athena:StartQueryExecution", d.workgroup(p["WorkGroup"]))
    # Athena writes each query's result file, encrypted, with the caller's credentials.
    bucket, _, prefix = d.results_location.removeprefix("s3://").partition("/")
    needed += req("s3:GetBucketLocation", f"arn:aws:s3:::{bucket}", note="Athena checks the result location")
    needed += req("s3:PutObject", f"arn:aws:s3:::{bucket}/{prefix}QUERY_ID.txt", note="Athena writes the query result")
    needed += req("kms:GenerateDataKey", d.results_key, note="Athena encrypts the query result (SSE_KMS)")
    select = _SELECT.match(p["QueryString"])
    if select:  # the canary reads an Iceberg table: its Glue table, its metadata files and its data files
        database, table = select.group(1), select.group(2)
        needed += req("glue:GetDatabase", d.glue(database), note="Athena reads the table's definition")
        needed += req("glue:GetTable", d.glue(database, table), note="Athena reads the table's definition")
        needed += req("s3:GetObject", f"arn:aws:s3:::{d.account.bucket}/iceberg/{database}/{table}/TABLE_UUID/metadata/FILE",
                      note="Athena reads the Iceberg metadata")
        needed += req("s3:GetObject", f"arn:aws:s3:::{d.account.bucket}/exports/EXPORT/DATABASE/SCHEMA.TABLE/1/part-00000.gz.parquet",
                      note="Athena reads the data files")
        needed += req("kms:Decrypt", d.bucket_key, note="S3 decrypts the SSE-KMS objects Athena reads")
        return needed
    ddl = _DDL.match(p["QueryString"])
    assert ddl, f"only DDL and the canary's SELECT are expected from the workflow, got: {p['QueryString'][:120]}"
    kind, database, table = ddl.group(1).split()[0].upper(), ddl.group(2), ddl.group(3)
    for action in _DDL_GLUE_ACTIONS[kind]:
        scope = d.glue(database) if action == "glue:GetDatabase" else d.glue(database, table)
        needed += req(action, scope, note=f"Athena runs {kind} TABLE in the Glue catalog")
    return needed


def export_writes(d: Deployment) -> list[Request]:
    """What RDS writes with the export role: every object under each export task's folder."""
    s3, found = d.account.client("s3"), []
    for task in d.account.export_tasks():
        root = "/".join(part for part in (task["s3_prefix"].strip("/"), task["id"]) if part) + "/"
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=task["s3_bucket"], Prefix=root):
            for item in page.get("Contents", []):
                why = f"RDS export {task['id']} writes its files"
                found.append(Request("s3:PutObject", f"arn:aws:s3:::{task['s3_bucket']}/{item['Key']}", {}, why))
        if task["status"] == "COMPLETE":
            found.append(Request("kms:GenerateDataKey", task["kms_key_id"], {}, "RDS export encrypts its files"))
    return found


# --- running the workflows once ------------------------------------------------------------


@dataclass
class Judged:
    """The runs' outcome and every authorization judged against the caller's role."""

    outcomes: dict[str, tuple[str, str | None, str | None]] = field(default_factory=dict)
    denied: list[str] = field(default_factory=list)
    # role -> granted (statement, action pattern, resource pattern) keys used by some request
    used: dict[str, set[tuple[str, str, str]]] = field(default_factory=lambda: defaultdict(set))
    granted: dict[str, set[tuple[str, str, str]]] = field(default_factory=dict)
    callers: set[str] = field(default_factory=set)


def _normalise(resource: str, d: Deployment) -> str:
    """Key ARNs differ per emulated account and the allowed clusters fill the same slots: compare shapes."""
    for key in {d.bucket_key, d.topic_key, d.results_key}:
        resource = resource.replace(key, "{key}")
    for cluster in ALLOWED:
        resource = re.sub(rf"(?<=[:/]){re.escape(cluster)}(?=$|[-*])", "{cluster}", resource)
    for instance in ALLOWED_INSTANCES:
        resource = re.sub(rf"(?<=[:/]){re.escape(instance)}(?=$|[-*])", "{instance}", resource)
    return resource


def _grants(statements: list[Statement], d: Deployment) -> set[tuple[str, str, str]]:
    return {
        (s.sid, action, _normalise(resource, d))
        for s in statements if s.effect == "Allow"
        for action in s.actions for resource in s.resources
    }


def judge(d: Deployment, requests_by_caller: dict[str, list[Request]], judged: Judged) -> None:
    from .iam_policy import action_matches, resource_matches

    for caller, requests in requests_by_caller.items():
        role = d.role_of(caller)
        policy = Policy.of(d.policies(role))
        for statement in policy.statements:
            assert statement.sid, f"{role}: every statement needs a Sid, so this test can name it"
            assert not statement.not_actions and not statement.not_resources, f"{role}: NotAction/NotResource widen a grant"
        judged.granted.setdefault(role, _grants(policy.statements, d))
        for request in requests:
            allowing = policy.allowing(request)
            if not allowing:
                judged.denied.append(f"{role} ({caller}) is denied {request}")
            for s in allowing:
                for action in s.actions:
                    for resource in s.resources:
                        if action_matches(action, request.action) and resource_matches(resource, request.resource):
                            judged.used[role].add((s.sid, action, _normalise(resource, d)))


@pytest.fixture(scope="module")
def judged() -> Judged:
    cfn = translate(REPO_ROOT / "template.yaml")
    result = Judged()
    for scenario in SCENARIOS:
        with EmulatedAccount(**scenario.options) as account:
            for number, run in enumerate(scenario.runs):
                start = account.functions["StartExportFunction"].environment
                if run.earlier_exports_gone:
                    _delete_export_files(account)
                for snapshot in run.running_exports:
                    account.client("rds").start_export_task(
                        ExportTaskIdentifier=f"running-elsewhere-{number}",
                        SourceArn=snapshot if snapshot.startswith("arn:") else _SNAPSHOT_ARN + snapshot,
                        S3BucketName=start["EXPORT_BUCKET"], IamRoleArn=start["EXPORT_ROLE_ARN"], KmsKeyId=start["EXPORT_KMS_KEY_ARN"],
                        S3Prefix="exports")  # the export role writes only in the exports area
                if run.event is not None:
                    started = [d.result["execution_arn"] for d in account.deliver_event(run.event) if isinstance(d.result, dict)]
                    done = account.wait(started[0])
                else:
                    done = account.run(run.execution_input, name=scenario.execution_name or f"lp-{SCENARIOS.index(scenario)}-{number}",
                                       state_machine=run.state_machine)
                result.outcomes[run.name] = (done.status, done.error, done.cause)
            deployment = Deployment(account, cfn)
            by_caller: dict[str, list[Request]] = defaultdict(list)
            for call in account.calls.calls:
                by_caller[call.caller] += requests_for(call, deployment)
            by_caller[EXPORT_ROLE] += export_writes(deployment)
            result.callers |= {c for c, r in by_caller.items() if r}
            judge(deployment, by_caller, result)
            # Roles no call used still have their grants compared (every grant then shows as unused).
            for role in _all_roles(cfn):
                result.granted.setdefault(role, _grants(Policy.of(deployment.policies(role)).statements, deployment))
    return result


def _delete_export_files(account: EmulatedAccount) -> None:
    """What the bucket's lifecycle rule (or a person) does to old exports."""
    s3 = account.client("s3")
    for task in account.export_tasks():
        root = "/".join(part for part in (task["s3_prefix"].strip("/"), task["id"]) if part) + "/"
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=task["s3_bucket"], Prefix=root):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=task["s3_bucket"], Key=item["Key"])


def _all_roles(cfn: dict[str, Any]) -> list[str]:
    resolver = Resolver(cfn, {"AllowedClusterIdentifiers": ",".join(ALLOWED), "AllowedDBInstanceIdentifiers": ",".join(ALLOWED_INSTANCES)})
    return [name for name, r in cfn["Resources"].items() if r["Type"] == "AWS::IAM::Role" and resolver.resource_exists(name)]


# --- the tests -----------------------------------------------------------------------------


# One test over the runs: with pytest-xdist, a module fixture used by several tests can run
# once per worker, and the runs are the expensive part.
@pytest.mark.slow
def test_least_privilege_in_both_directions(judged: Judged) -> None:
    # The runs end as intended, so they exercise the steps they stand for.
    for run in (run for scenario in SCENARIOS for run in scenario.runs):
        status, error, cause = judged.outcomes[run.name]
        assert (status, error) == (run.status, run.error), (run.name, cause)
    functions = {name for name, r in translate(REPO_ROOT / "template.yaml")["Resources"].items()
                 if r["Type"] == "AWS::Lambda::Function"}
    # ValidateInput and ListSources call no AWS API; every other function, both state machines and RDS's export made calls.
    assert judged.callers - {STATE_MACHINE, FLEET_STATE_MACHINE, EXPORT_ROLE} == functions - {"ValidateInputFunction", "ListSourcesFunction"}
    assert {STATE_MACHINE, FLEET_STATE_MACHINE, EXPORT_ROLE} <= judged.callers

    # 1. Every call, and what AWS does with the caller's credentials for it, is allowed on its exact ARN.
    assert not judged.denied, "\n".join(sorted(set(judged.denied)))

    # 2. Every action on every resource granted is used by a run, or by AWS on the role's behalf.
    unused = []
    for role, grants in sorted(judged.granted.items()):
        service_use = SERVICE_USE.get(role, LAMBDA_RUNTIME_USE)
        for sid, action, resource in sorted(grants - judged.used.get(role, set())):
            if action not in service_use and (role, action) not in NOT_REACHABLE_IN_EMULATION:
                unused.append(f"{role}: {sid} grants {action} on {resource}, which no run uses")
        # Each listed service use is really granted: a stale entry would mislead a reviewer.
        granted_actions = {action for _, action, _ in grants}
        assert set(service_use) <= granted_actions, (role, sorted(set(service_use) - granted_actions))
    assert not unused, "\n".join(unused)


def test_the_forbidden_cluster_and_db_instance_are_refused_by_iam_too() -> None:
    """Validation refuses it first; IAM would refuse it even if validation were bypassed."""
    cfn = translate(REPO_ROOT / "template.yaml")
    with EmulatedAccount() as account:
        d = Deployment(account, cfn)
        policy = {role: Policy.of(d.policies(d.role_of(role))) for role in
                  ("CreateSnapshotFunction", "CheckSnapshotFunction", "StartExportFunction", "DeleteSnapshotFunction")}
    forbidden = [
        ("CreateSnapshotFunction", "rds:CreateDBClusterSnapshot", d.rds("cluster", "forbidden-cluster")),
        ("CreateSnapshotFunction", "rds:CreateDBClusterSnapshot", d.rds("cluster-snapshot", "forbidden-cluster-lake-1")),
        ("CheckSnapshotFunction", "rds:DescribeDBClusterSnapshots", d.rds("cluster-snapshot", "forbidden-cluster-manual-2026-11-01")),
        ("CheckSnapshotFunction", "rds:DescribeDBClusterSnapshots", d.rds("cluster", "forbidden-cluster")),
        ("StartExportFunction", "rds:StartExportTask", d.rds("cluster-snapshot", "forbidden-cluster-manual-2026-11-01")),
        ("StartExportFunction", "rds:StartExportTask", d.rds("cluster-snapshot", "rds:forbidden-cluster-2026-11-01-03-10")),
        ("DeleteSnapshotFunction", "rds:DeleteDBClusterSnapshot", d.rds("cluster-snapshot", "demo-aurora-cluster-manual-2026-11-01")),
        ("StartExportFunction", "iam:PassRole", f"arn:aws:iam::{d.account_id}:role/any-other-role"),
        ("StartExportFunction", "rds:StartExportTask", d.rds("cluster", "forbidden-cluster")),
        ("StartExportFunction", "rds:StartExportTask", d.rds("cluster", "demo-aurora-cluster-eu")),
        # The DB instance outside AllowedDBInstanceIdentifiers, and its DB snapshots.
        ("CreateSnapshotFunction", "rds:CreateDBSnapshot", d.rds("db", "forbidden-db")),
        ("CreateSnapshotFunction", "rds:CreateDBSnapshot", d.rds("snapshot", "forbidden-db-lake-1")),
        ("CreateSnapshotFunction", "rds:DescribeDBInstances", d.rds("db", "forbidden-db")),
        ("CheckSnapshotFunction", "rds:DescribeDBSnapshots", d.rds("snapshot", "forbidden-db-manual-2026-11-01")),
        ("CheckSnapshotFunction", "rds:DescribeDBSnapshots", d.rds("db", "forbidden-db")),
        ("StartExportFunction", "rds:StartExportTask", d.rds("snapshot", "forbidden-db-manual-2026-11-01")),
        ("StartExportFunction", "rds:StartExportTask", d.rds("snapshot", "rds:forbidden-db-2026-11-01-04-20")),
        # A DB instance cannot be exported without a snapshot: no grant on a db ARN.
        ("StartExportFunction", "rds:StartExportTask", d.rds("db", "demo-mariadb-db")),
        # Only the DB snapshots this workflow takes are deleted; a cluster grant never covers a DB snapshot.
        ("DeleteSnapshotFunction", "rds:DeleteDBSnapshot", d.rds("snapshot", "demo-mysql-db-manual-2026-11-01")),
        ("DeleteSnapshotFunction", "rds:DeleteDBSnapshot", d.rds("snapshot", "rds:demo-postgres-db-2026-11-01-04-20")),
        ("DeleteSnapshotFunction", "rds:DeleteDBClusterSnapshot", d.rds("snapshot", "demo-aurora-cluster-lake-1")),
    ]
    here = {"aws:RequestedRegion": d.region}
    for caller, action, resource in forbidden:
        assert not policy[caller].allows(Request(action, resource, here)), (caller, action, resource)
    allowed = [("StartExportFunction", "rds:StartExportTask", d.rds("cluster-snapshot", "demo-aurora-cluster-manual-2026-11-01")),
               ("StartExportFunction", "rds:StartExportTask", d.rds("cluster", "demo-aurora-cluster")),
               ("StartExportFunction", "rds:StartExportTask", d.rds("snapshot", "rds:demo-postgres-db-2026-11-01-04-20")),
               ("CreateSnapshotFunction", "rds:CreateDBSnapshot", d.rds("db", "demo-mariadb-db")),
               ("DeleteSnapshotFunction", "rds:DeleteDBSnapshot", d.rds("snapshot", "demo-mariadb-db-lake-1"))]
    for caller, action, resource in allowed:
        assert policy[caller].allows(Request(action, resource, here)), (caller, action, resource)
        # The same names in another Region are refused: the ARNs' Region is pinned by a condition.
        elsewhere = resource.replace(f":{d.region}:", ":eu-west-1:")
        assert not policy[caller].allows(Request(action, elsewhere, {"aws:RequestedRegion": "eu-west-1"})), elsewhere


def test_no_role_has_a_managed_policy_and_star_resources_have_a_reason() -> None:
    cfn = translate(REPO_ROOT / "template.yaml")
    for name in _all_roles(cfn):
        managed = cfn["Resources"][name]["Properties"].get("ManagedPolicyArns")
        # Only with FunctionSubnetIds: the stack's own network-interface policy (tests/template/test_cfn_guard.py).
        assert managed in (None, {"Fn::If": ["HasFunctionVpc", [{"Ref": "FunctionVpcAccessPolicy"}], {"Ref": "AWS::NoValue"}]}), name
    # Which actions may name "*" (each with its reason) is tested in tests/template/test_template.py.
