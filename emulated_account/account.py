"""The emulated AWS account: moto, the template's resources, the real handlers and ASL.

    with EmulatedAccount() as account:
        result = account.run({"cluster_identifier": "demo-aurora-cluster"})
        assert result.status == "SUCCEEDED"

Everything runs in process on a virtual clock; entering the account installs
the simulators and patches, leaving it restores them.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import enum
import io
import json
import re
import threading
import time
import uuid
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from emulated_account import athena_sim, caches, data, distributed_map, eventbridge_sim, glue_sim, organization, rds_sim, runtime, sfn_integrations, sns_sim
from emulated_account import faults as fault_injection
from emulated_account.clock import DEFAULT_START, VirtualClock
from emulated_account.clock import installed as clock_installed
from emulated_account.template import Template

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"
DEFAULT_PARAMETERS = {
    "AllowedClusterIdentifiers": ",".join(data.ALLOWED_CLUSTERS),
    "AllowedDBInstanceIdentifiers": ",".join(data.ALLOWED_DB_INSTANCES),
}
EXPORT_STATE_MACHINE = "ExportStateMachine"
FLEET_STATE_MACHINE = "FleetStateMachine"
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}

AWS_BACKUP_SNAPSHOT = "awsbackup:job-3f6c2a1e-8b4d-4c57-9e21-7a0d5b9c4e18"
FORBIDDEN_AWS_BACKUP_SNAPSHOT = "awsbackup:job-91d0e7b2-5c3a-4f88-b6e4-2c8a1f0d7b35"

# Snapshots that exist before any execution: a manual and automated ones (automated are named rds:...).
EXISTING_SNAPSHOTS: tuple[tuple[str, str, str], ...] = (
    ("demo-aurora-cluster", "demo-aurora-cluster-manual-2026-11-01", "manual"),
    ("demo-aurora-cluster", "rds:demo-aurora-cluster-2026-10-31-03-10", "automated"),
    ("demo-aurora-cluster", "rds:demo-aurora-cluster-2026-11-01-03-10", "automated"),
    ("demo-mysql-cluster", "rds:demo-mysql-cluster-2026-11-01-03-10", "automated"),
    ("forbidden-cluster", "forbidden-cluster-manual-2026-11-01", "manual"),
    # AWS Backup recovery points: the name carries no cluster (the type is UNCONFIRMED for clusters,
    # "awsbackup" as DescribeDBSnapshots reports it for instances).
    ("demo-aurora-cluster", AWS_BACKUP_SNAPSHOT, "awsbackup"),
    ("forbidden-cluster", FORBIDDEN_AWS_BACKUP_SNAPSHOT, "awsbackup"),
)

# AWS Backup recovery points in source accounts: of an opted-in cluster that copies its tags, and of a
# cluster opted in to another lake.
SOURCE_AWS_BACKUP_SNAPSHOT = "awsbackup:job-5a7c9e1b-3d2f-4a6b-8c0d-1e2f3a4b5c6d"
SOURCE_FOREIGN_AWS_BACKUP_SNAPSHOT = "awsbackup:job-0b1c2d3e-4f5a-4b6c-9d7e-8f9a0b1c2d3e"
# Snapshots of the source accounts' clusters that exist before any execution (organization only).
# Their tags are their cluster's when it copies tags to snapshots (data.COPY_TAGS_TO_SNAPSHOT).
SOURCE_EXISTING_SNAPSHOTS: tuple[tuple[str, str, str, str], ...] = (
    ("111111111111", "orders-aurora", "rds:orders-aurora-2026-11-01-03-10", "automated"),
    ("111111111111", "demo-aurora-cluster", "rds:demo-aurora-cluster-2026-11-01-03-10", "automated"),
    ("111111111111", "orders-secrets", "orders-secrets-manual-2026-11-01", "manual"),
    ("111111111111", "orders-aurora", SOURCE_AWS_BACKUP_SNAPSHOT, "awsbackup"),
    ("111111111111", "orders-secrets", SOURCE_FOREIGN_AWS_BACKUP_SNAPSHOT, "awsbackup"),
    ("222222222222", "billing-aurora", "rds:billing-aurora-2026-11-01-03-10", "automated"),
    ("222222222222", "billing-payroll", "billing-payroll-manual-2026-11-01", "manual"),
    ("222222222222", "billing-reports", "rds:billing-reports-2026-11-01-03-10", "automated"),
)
# DB snapshots of the source accounts' DB instances that exist before any execution.
SOURCE_EXISTING_DB_SNAPSHOTS: tuple[tuple[str, str, str, str], ...] = (
    ("111111111111", "orders-db", "rds:orders-db-2026-11-01-04-20", "automated"),
    ("111111111111", "orders-hr-db", "rds:orders-hr-db-2026-11-01-04-20", "automated"),
    ("222222222222", "billing-db", "rds:billing-db-2026-11-01-04-20", "automated"),
)

DB_AWS_BACKUP_SNAPSHOT = "awsbackup:job-6b1e4f0c-2d7a-4e93-8c15-0f9a3b7d2e64"
# DB snapshots of the DB instances that exist before any execution: manual, automated (rds:...)
# and an AWS Backup recovery point ("awsbackup" is DescribeDBSnapshots' own SnapshotType).
EXISTING_DB_SNAPSHOTS: tuple[tuple[str, str, str], ...] = (
    ("demo-mysql-db", "demo-mysql-db-manual-2026-11-01", "manual"),
    ("demo-postgres-db", "rds:demo-postgres-db-2026-10-31-04-20", "automated"),
    ("demo-postgres-db", "rds:demo-postgres-db-2026-11-01-04-20", "automated"),
    ("demo-mariadb-db", "rds:demo-mariadb-db-2026-11-01-04-20", "automated"),
    ("demo-mariadb-db", DB_AWS_BACKUP_SNAPSHOT, "awsbackup"),
    ("demo-custom-db", "rds:demo-custom-db-2026-11-01-04-20", "automated"),
    ("forbidden-db", "forbidden-db-manual-2026-11-01", "manual"),
)


@dataclass
class StateEntry:
    name: str
    type: str
    simulated_seconds: float  # since the execution started


@dataclass
class ExecutionResult:
    execution_arn: str
    started_at: float  # simulated epoch seconds
    status: str
    error: str | None
    cause: str | None
    output: Any
    states: list[str]
    state_entries: list[StateEntry]
    state_transitions: int
    simulated_seconds: float
    snapshots_created: list[str]
    export_tasks: list[dict[str, Any]]
    athena_queries: list[str]
    notifications: list[dict[str, Any]]
    max_state_payload_bytes: int
    history: list[dict[str, Any]] = field(repr=False, default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The ``--json`` contract of ``make demo``."""
        return {
            "status": self.status,
            "error": self.error,
            "cause": self.cause,
            "states": self.states,
            "state_transitions": self.state_transitions,
            "simulated_seconds": self.simulated_seconds,
            "snapshots_created": self.snapshots_created,
            "export_tasks": self.export_tasks,
            "athena_queries": self.athena_queries,
            "notifications": self.notifications,
        }


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(event, context):\n    return event\n")
    return buffer.getvalue()


class EmulatedAccount:
    """A moto account deployed from ``template.yaml`` that runs the real workflow on simulated time."""

    def __init__(
        self,
        template_path: str | Path = DEFAULT_TEMPLATE,
        *,
        parameters: dict[str, str] | None = None,
        stack_name: str = "aurora-lake",
        faults: Iterable[str | fault_injection.Fault] = (),
        export: rds_sim.ExportBehaviour | None = None,
        snapshot_seconds: float = 180.0,
        athena_ddl_latency: float = 0.0,
        athena_ddl_concurrency: int = athena_sim.DEFAULT_DDL_CONCURRENCY,
        athena_reads_name_mapping: bool = True,
        clock_start: float = DEFAULT_START,
        library_paths: Sequence[str | Path] | None = None,
        handler_output: TextIO | None = None,
        existing_snapshots: Sequence[tuple[str, str, str]] = EXISTING_SNAPSHOTS,
        existing_db_snapshots: Sequence[tuple[str, str, str]] = EXISTING_DB_SNAPSHOTS,
        api_call_seconds: float = 0.0,
        export_events: eventbridge_sim.EventDelivery | None = None,
        source_accounts: Mapping[str, Sequence[str]] | None = None,
        source_template: str | Path | None = None,
        with_organization: bool | None = None,
        stack_set_target_ous: Sequence[str] | None = None,
        organization_layout: organization.OrganizationLayout | None = None,
    ) -> None:
        """``with_organization`` True sets up the emulated organization (moto's organizations backend, the
        source template as a stack set over ``stack_set_target_ous``) even when the template has no
        ``OrganizationId``; None: when that parameter is not empty. ``source_accounts`` (any
        mapping, kept for older callers) means ``with_organization`` True: which databases export is their
        owners' tags (``data.OPT_IN_TAGS``). ``source_template``: ``source-account.yaml`` beside the template.
        ``athena_reads_name_mapping=False``: Athena reads Iceberg tables without their name mapping
        (every column of the exported files NULL), the fault the run's canary must catch.
        ``organization_layout``: the organization's OUs, accounts, databases and tags (the demo's by
        default; ``organization.scale_layout`` for one of a real organization's size); its stack set
        targets ``stack_set_target_ous`` when given, else the layout's.
        """
        self.region = data.REGION
        self.account_id = data.ACCOUNT_ID
        from emulated_account.template import load

        document = load(template_path)
        declared = document.get("Parameters") or {}
        # The demo deployment's values for the parameters the template declares; explicit ones win.
        defaults = {k: v for k, v in DEFAULT_PARAMETERS.items() if k in declared}
        self.template = Template(
            Path(template_path),
            document=document,
            parameters={**defaults, **(parameters or {})},
            stack_name=stack_name,
            region=self.region,
            account_id=self.account_id,
        )
        self.clock = VirtualClock(clock_start)
        self.fault_plan = fault_injection.FaultPlan.of(faults)
        self.calls = fault_injection.CallRecorder()
        self.rds = rds_sim.RdsSimulator(self.clock, export, snapshot_seconds, self.account_id, self.region)
        self.organization_enabled = self._organization_enabled(with_organization, source_accounts)
        self.layout = organization_layout or organization.DEMO_LAYOUT
        self.stack_set_target_ous = tuple(stack_set_target_ous if stack_set_target_ous is not None else self.layout.target_ous)
        self.source_template = Path(source_template) if source_template else self.template.base_dir / organization.SOURCE_TEMPLATE_NAME
        # One RDS per account of the organization that has databases (moto keeps each account's
        # apart), whether or not the stack set reached it; empty without an organization.
        accounts = self.layout.accounts_with_databases() if self.organization_enabled else []
        self.source_rds = {
            account: rds_sim.RdsSimulator(
                self.clock, export, snapshot_seconds, account, self.region, organization.clusters_of(account, self.layout),
                organization.db_instances_of(account, self.layout), self.layout.source_tags, self.layout.copy_tags_to_snapshot,
            )
            for account in accounts
        }
        # The accounts where the source template is deployed now (the stack set's instances).
        self.source_accounts: dict[str, tuple[str, ...]] = {}
        self.organization: organization.Organization | None = None
        # (role, action, resource) of every call into another account that IAM, as emulated, allowed.
        self.judged_calls: list[tuple[str, str, str]] = []
        self.athena = athena_sim.AthenaSimulator(
            self.clock, ddl_latency_seconds=athena_ddl_latency, ddl_concurrency=athena_ddl_concurrency,
            name_mapping_supported=athena_reads_name_mapping,
        )
        if library_paths is None:
            library_paths = [self.template.base_dir / "functions" / "common", REPO_ROOT / "functions" / "common"]
        self._library_paths = [Path(p) for p in library_paths]
        self._handler_output = handler_output
        self._existing_snapshots = existing_snapshots
        self._existing_db_snapshots = existing_db_snapshots
        self._api_call_seconds = api_call_seconds
        self._export_events = export_events or eventbridge_sim.EventDelivery()
        self.events: eventbridge_sim.EventBus | None = None
        self._stack: contextlib.ExitStack | None = None
        self._clients: dict[str, Any] = {}
        self.runtime: runtime.LambdaRuntime | None = None
        self.state_machine_arn = ""
        self.state_machine_arns: dict[str, str] = {}
        self.functions: dict[str, runtime.FunctionSpec] = {}
        # Task parameters whose serialisation no AWS recording shows: each fails the run loudly.
        self.unknown_parameter_forms: list[sfn_integrations.UnknownParameterForm] = []
        # Every Distributed Map run's child executions (what its ResultWriter writes).
        self.map_runs: distributed_map.MapRuns | None = None
        # ARNs of executions whose end moto has fully recorded (status, then output or error).
        self._ended_executions: set[str] = set()

    # -- lifecycle ------------------------------------------------------------------------------
    def __enter__(self) -> EmulatedAccount:
        from moto import mock_aws

        stack = contextlib.ExitStack()
        try:
            stack.enter_context(caches.installed())
            stack.enter_context(_on_sys_path([p for p in self._library_paths if p.is_dir()]))
            stack.enter_context(mock_aws(config=MOTO_CONFIG))
            stack.enter_context(_aws_environment(self.region))
            stack.enter_context(clock_installed(self.clock))
            stack.enter_context(rds_sim.installed(self.rds, *self.source_rds.values()))
            if self.organization_enabled:
                stack.enter_context(organization.assume_role_judged(lambda: self.organization, self._caller_role))
                self.judged_calls = stack.enter_context(organization.judged_calls(lambda: self.organization))
                stack.enter_context(organization.delegated_reads(lambda: self.organization))
            stack.enter_context(athena_sim.installed(self.athena))
            stack.enter_context(glue_sim.installed())
            stack.enter_context(
                fault_injection.installed(
                    self.fault_plan, self.calls, self.clock.now, self._api_call_seconds, self.clock.advance, principal=self._principal_of_call
                )
            )
            self._reset_clients()
            stack.callback(self._reset_clients)
            stack.callback(self._clients.clear)
            stack.enter_context(_shared_interpreter_clients())
            stack.enter_context(sfn_integrations.installed(self.unknown_parameter_forms.append))
            self.map_runs = stack.enter_context(distributed_map.installed(self.clock.utcnow, self.unknown_parameter_forms.append))
            stack.enter_context(sns_sim.installed())
            stack.enter_context(_interpreter_calls_attributed(self))
            stack.enter_context(_spent_task_tokens_refused())
            self._ended_executions = stack.enter_context(_ended_executions())
            self._deploy()
            assert self.runtime is not None
            stack.enter_context(runtime.installed(self.runtime))
            self.events = eventbridge_sim.EventBus(
                self.template, self.clock, self.rds, self.runtime, self._export_events,
                organization=self.organization, source_rds=self.source_rds, start_execution=self._start_from_event,
            )
            self.clock.waiter = self.events.wait
            stack.callback(setattr, self.clock, "waiter", None)
        except BaseException:
            stack.close()
            raise
        self._stack = stack
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stack is not None:
            stack, self._stack = self._stack, None
            stack.close()

    @staticmethod
    def _reset_clients() -> None:
        with contextlib.suppress(ImportError):
            from aurora_lake import clients

            clients.reset()

    def client(self, service: str, account_id: str | None = None) -> Any:
        """A client for inspecting the lake account, or another account of the organization (never faulted, never recorded)."""
        if account_id is not None and account_id != self.account_id:
            key = f"{account_id}:{service}"
            if key not in self._clients:
                self._clients[key] = organization.account_client(service, account_id, self.region)
            return self._clients[key]
        if service not in self._clients:
            self._clients[service] = fault_injection.internal_client(service, self.region)
        return self._clients[service]

    # -- the organization ------------------------------------------------------------------------
    def _organization_enabled(self, explicit: bool | None, source_accounts: Mapping[str, Sequence[str]] | None) -> bool:
        if explicit is not None:
            return explicit
        if source_accounts is not None:
            return True
        declared = self.template.document.get("Parameters") or {}
        return "OrganizationId" in declared and bool(str(self.template.parameter("OrganizationId")).strip())

    def _deploy_organization(self) -> None:
        """The organization, the lake's resource policies, the stack set of ``source-account.yaml``, the databases."""
        t = self.template
        if not self.source_template.is_file():
            raise organization.OrganizationError(f"the organization needs {self.source_template}, which does not exist")
        environment = self.functions["StartExportFunction"].environment
        key_arn = environment.get("EXPORT_KMS_KEY_ARN", "")
        organization.create_organization(self.region, layout=self.layout)
        org = organization.Organization(self.account_id, self.region)
        # The organization's delegation policy lets the lake account read its accounts and OUs (docs/organization.md).
        org.delegated_readers.add(self.account_id)
        # Kept for organization.Organization, not put into moto: moto's S3 would judge every object
        # request by it with an evaluator that takes the TLS-only Deny's condition as always met.
        for resource in t.resources_of_type("AWS::S3::BucketPolicy").values():
            properties = t.resolve(resource["Properties"])
            org.bucket_policies[str(properties["Bucket"])] = properties["PolicyDocument"]
        for logical_id, resource in t.resources_of_type("AWS::KMS::Key").items():
            policy = (resource.get("Properties") or {}).get("KeyPolicy")
            if policy is not None:
                org.key_policies[str(t.get_att(logical_id, "Arn"))] = t.resolve(policy)
        org.bus_policy = {"Version": "2012-10-17", "Statement": [
            statement
            for resource in t.resources_of_type("AWS::Events::EventBusPolicy").values()
            for statement in _bus_policy_statements(t.resolve(resource["Properties"]))
        ]}
        for account, simulator in self.source_rds.items():
            simulator.cross_account_write_refusal = org.export_write_refusal
            simulator.create_clusters()
            simulator.create_db_instances()
        for account, cluster_id, snapshot_id, snapshot_type in SOURCE_EXISTING_SNAPSHOTS:
            if account in self.source_rds:
                self.source_rds[account].add_snapshot(cluster_id, snapshot_id, snapshot_type)
        for account, instance_id, snapshot_id, snapshot_type in SOURCE_EXISTING_DB_SNAPSHOTS:
            if account in self.source_rds:
                self.source_rds[account].add_db_snapshot(instance_id, snapshot_id, snapshot_type)
        parameters = organization.source_template_parameters(t, self.bucket, key_arn, organization.load_parameters(self.source_template))
        org.stack_set = organization.StackSet(self.source_template, parameters, self.stack_set_target_ous, self.region, on_change=self._source_stack_changed)
        self.organization = org
        org.stack_set.sync()

    def _source_stack_changed(self, account: str, deployed: organization.SourceAccount | None) -> None:
        """Keep ``source_accounts`` (the accounts the stack set reaches now) in step with the stack set."""
        if deployed is None:
            self.source_accounts.pop(account, None)
        else:
            self.source_accounts[account] = tuple(
                c.identifier for c in organization.clusters_of(account, self.layout) if self.layout.tag(account, c.identifier) == self.template.stack_name
            )

    def _caller_role(self) -> str | None:
        """The role of the function whose handler is running (None outside the workflow's functions)."""
        caller = fault_injection.current_caller()
        spec = self.functions.get(caller) if caller else None
        return spec.role_arn if spec is not None else None

    def _principal_of_call(self, caller: str | None, access_key: str) -> tuple[str, str]:
        """Who made a call, as AWS names it in a refusal (an assumed-role session), and the account it acted in.

        A call through credentials of an assumed role (a source account's access role) is that
        role's; any other call of a function is its own role's, the session named after the function.
        """
        if self.source_accounts and access_key:
            account, role_arn = organization.principal_of(access_key)
            if role_arn:
                return f"arn:aws:sts::{account}:assumed-role/{role_arn.rsplit('/', 1)[-1]}/{caller or 'session'}", account
        spec = self.functions.get(caller) if caller else None
        if spec is not None and spec.role_arn:
            return f"arn:aws:sts::{self.account_id}:assumed-role/{spec.role_arn.rsplit('/', 1)[-1]}/{spec.name}", self.account_id
        role = getattr(self, "state_machine_role_arn", "") or f"arn:aws:iam::{self.account_id}:role/unknown"
        return f"arn:aws:sts::{self.account_id}:assumed-role/{role.rsplit('/', 1)[-1]}/{caller or 'session'}", self.account_id

    def _start_from_event(self, state_machine_arn: str, execution_input: str) -> str:
        """What EventBridge does for a rule targeting a state machine: StartExecution with the transformed input."""
        return str(self.client("stepfunctions").start_execution(
            stateMachineArn=state_machine_arn, name=f"event-{uuid.uuid4().hex[:12]}", input=execution_input
        )["executionArn"])

    # -- deployment -----------------------------------------------------------------------------
    def _deploy(self) -> None:
        t = self.template
        kms, s3, iam = self.client("kms"), self.client("s3"), self.client("iam")
        for logical_id, resource in t.resources_of_type("AWS::KMS::Key").items():
            description = t.resolve((resource.get("Properties") or {}).get("Description", logical_id))
            key = kms.create_key(Description=str(description))["KeyMetadata"]
            t.physical[logical_id] = {"ref": key["KeyId"], "Arn": key["Arn"], "KeyId": key["KeyId"]}
        for logical_id in t.resources_of_type("AWS::KMS::Alias"):
            properties = t.resolve(t.resources[logical_id]["Properties"])
            kms.create_alias(AliasName=properties["AliasName"], TargetKeyId=properties["TargetKeyId"])
        buckets = list(t.resources_of_type("AWS::S3::Bucket"))
        for logical_id in buckets:
            name = t.physical_name(logical_id)
            s3.create_bucket(Bucket=name)
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        existing_bucket = t.parameters.get("ExistingExportBucketName")
        if existing_bucket:
            s3.create_bucket(Bucket=existing_bucket)  # a bucket the user brings already exists
        for logical_id, resource in t.resources_of_type("AWS::IAM::Role").items():
            properties = resource.get("Properties") or {}
            name = t.physical_name(logical_id)
            iam.create_role(
                RoleName=name, AssumeRolePolicyDocument=json.dumps(t.resolve(properties.get("AssumeRolePolicyDocument", {}))),
                Tags=t.resolve(properties.get("Tags") or []),
            )
            for policy in t.resolve(properties.get("Policies") or []):
                iam.put_role_policy(RoleName=name, PolicyName=policy["PolicyName"], PolicyDocument=json.dumps(policy["PolicyDocument"]))
        sns = self.client("sns")
        for logical_id in t.resources_of_type("AWS::SNS::Topic"):
            arn = sns.create_topic(Name=t.physical_name(logical_id))["TopicArn"]
            t.physical[logical_id] = {"ref": arn, "Arn": arn, "TopicArn": arn, "TopicName": t.physical_name(logical_id)}
        glue = self.client("glue")
        for logical_id in t.resources_of_type("AWS::Glue::Database"):
            glue.create_database(DatabaseInput={"Name": t.physical_name(logical_id)})
        athena = self.client("athena")
        for logical_id, resource in t.resources_of_type("AWS::Athena::WorkGroup").items():
            properties = t.resolve(resource.get("Properties") or {})
            configuration = properties.get("WorkGroupConfiguration") or {}
            athena.create_work_group(
                Name=properties["Name"],
                Configuration={k: v for k, v in configuration.items() if k in ("ResultConfiguration", "EnforceWorkGroupConfiguration")},
            )
        logs = self.client("logs")
        for logical_id in t.resources_of_type("AWS::Logs::LogGroup"):
            with contextlib.suppress(Exception):
                logs.create_log_group(logGroupName=t.physical_name(logical_id))

        lam = self.client("lambda")
        code = _dummy_zip()
        specs = []
        for definition in t.functions():
            self._ensure_role(iam, definition.role_arn)
            lam.create_function(
                FunctionName=definition.name,
                Runtime=definition.runtime,
                Role=definition.role_arn,
                Handler=definition.handler,
                Code={"ZipFile": code},
                Timeout=definition.timeout,
                MemorySize=definition.memory_size,
                Environment={"Variables": definition.environment},
            )
            specs.append(
                runtime.FunctionSpec(
                    logical_id=definition.logical_id,
                    name=definition.name,
                    arn=definition.arn,
                    code_dir=definition.code_dir,
                    handler=definition.handler,
                    environment=definition.environment,
                    timeout=definition.timeout,
                    memory_size=definition.memory_size,
                    runtime=definition.runtime,
                    role_arn=definition.role_arn,
                )
            )
        self.functions = {spec.logical_id: spec for spec in specs}
        self.runtime = runtime.LambdaRuntime(
            self.clock, specs, self._library_paths, self.region, self._handler_output
        )
        machines = {machine.logical_id: machine for machine in t.state_machines()}
        # The export state machine: the template's only one, or the one named so beside the fleet's.
        export = next(iter(machines)) if len(machines) == 1 else EXPORT_STATE_MACHINE
        if export not in machines:
            raise ValueError(f"the template defines no {EXPORT_STATE_MACHINE}; it defines {sorted(machines)}")
        sfn = self.client("stepfunctions")
        # The export state machine first: the fleet's definition names it.
        for logical_id in sorted(machines, key=lambda name: name != export):
            machine = machines[logical_id]
            self._ensure_role(iam, machine.role_arn)
            self.state_machine_arns[logical_id] = sfn.create_state_machine(
                name=machine.name, definition=machine.definition, roleArn=machine.role_arn, type=machine.type
            )["stateMachineArn"]
        self.state_machine_arns.setdefault(EXPORT_STATE_MACHINE, self.state_machine_arns[export])
        self.state_machine_arn = self.state_machine_arns[export]
        self.state_machine_role_arn = machines[export].role_arn

        self.rds.create_clusters()
        for cluster_id, snapshot_id, snapshot_type in self._existing_snapshots:
            self.rds.add_snapshot(cluster_id, snapshot_id, snapshot_type)
        self.rds.create_db_instances()
        for instance_id, snapshot_id, snapshot_type in self._existing_db_snapshots:
            self.rds.add_db_snapshot(instance_id, snapshot_id, snapshot_type)
        if self.organization_enabled:
            self._deploy_organization()
        for simulator in (self.rds, *self.source_rds.values()):
            simulator.snapshots_created.clear()  # from here on, only what the workflow creates

    @staticmethod
    def _ensure_role(iam: Any, role_arn: str) -> None:
        name = role_arn.rsplit("/", 1)[-1]
        with contextlib.suppress(iam.exceptions.EntityAlreadyExistsException):
            iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")

    def caller_of(self, state_machine_arn: str) -> str:
        """How calls of a state machine are recorded: STATE_MACHINE for the export one, else its logical id."""
        for logical_id, arn in self.state_machine_arns.items():
            if arn == state_machine_arn and arn != self.state_machine_arn:
                return logical_id
        return fault_injection.STATE_MACHINE

    # -- named resources ------------------------------------------------------------------------
    def ref(self, logical_id: str) -> Any:
        """What ``!Ref logical_id`` resolves to in this deployment."""
        return self.template.ref(logical_id)

    @property
    def bucket(self) -> str:
        return self.functions["StartExportFunction"].environment["EXPORT_BUCKET"]

    @property
    def topic_arn(self) -> str:
        return self.functions["NotifyFunction"].environment["TOPIC_ARN"]

    # -- executions -----------------------------------------------------------------------------
    def start_execution(self, execution_input: Any, name: str | None = None, state_machine: str = EXPORT_STATE_MACHINE) -> str:
        """Start the state machine with ``execution_input`` as its JSON input.

        Any JSON value is sent as Step Functions receives it: a Python string becomes a
        JSON string, never raw input text.
        """
        sfn = self.client("stepfunctions")
        return sfn.start_execution(
            stateMachineArn=self.state_machine_arns[state_machine], name=name or f"run-{uuid.uuid4().hex[:12]}", input=json.dumps(execution_input)
        )["executionArn"]

    def wait(self, execution_arn: str, timeout: float = 120.0) -> ExecutionResult:
        """Wait until the execution ends (real-time ``timeout`` guards against a hang).

        The end is read from moto's execution thread, and DescribeExecution is called once it has
        ended: through the API, each poll cost as much CPU as a Lambda invocation, taken from the
        execution's own thread (one GIL). Moto sets an execution's status before its output or
        error, so its status alone would let DescribeExecution report SUCCEEDED without output.
        """
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        pause = 0.001
        while execution_arn not in self._ended_executions:
            if time.monotonic() > deadline:
                sfn.stop_execution(executionArn=execution_arn, error="EmulatorTimeout", cause=f"still running after {timeout} s of real time")
                raise TimeoutError(f"{execution_arn} still RUNNING after {timeout} s of real time (simulated {self.clock.elapsed():.0f} s)")
            time.sleep(pause)
            pause = min(pause * 1.5, 0.01)
        described = sfn.describe_execution(executionArn=execution_arn)
        assert described["status"] != "RUNNING", described["status"]
        if self.unknown_parameter_forms:
            # The state machine may have caught the task's error: the emulated account must not.
            raise self.unknown_parameter_forms[0]
        return self._result(execution_arn, described)

    def run(self, execution_input: Any, name: str | None = None, timeout: float = 120.0, state_machine: str = EXPORT_STATE_MACHINE) -> ExecutionResult:
        return self.wait(self.start_execution(execution_input, name, state_machine), timeout)

    def deliver_event(self, event: dict[str, Any]) -> list[eventbridge_sim.Delivery]:
        """``event`` on the lake's default bus now, delivered to every rule it matches; returns those deliveries."""
        assert self.events is not None
        before = len(self.events.deliveries)
        self.events.put_event(event, self.clock.now())
        self.events.deliver_due()
        return self.events.deliveries[before:]

    def lake_stack_state(self) -> str:
        """Everything of the lake stack that onboarding a source could change, as one JSON text: the
        template and its parameters, the bucket, key and bus policies, the lake roles' inline
        policies and the functions' environments (equal texts: no stack update)."""
        iam = self.client("iam")
        roles = {}
        prefix = f"{self.template.stack_name}-"
        for page in iam.get_paginator("list_roles").paginate():
            for role in page["Roles"]:
                if role["RoleName"].startswith(prefix):
                    roles[role["RoleName"]] = [iam.get_role_policy(RoleName=role["RoleName"], PolicyName=name)["PolicyDocument"]
                                               for name in iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]]
        org = self.organization
        return json.dumps({
            "template": self.template.document, "parameters": self.template.parameters,
            "bucket": org.bucket_policies if org else None, "key": org.key_policies if org else None, "bus": org.bus_policy if org else None,
            "roles": roles, "functions": {name: spec.environment for name, spec in self.functions.items()},
        }, sort_keys=True, default=str)

    def run_fleet(self, execution_input: Any, name: str | None = None, timeout: float = 300.0) -> ExecutionResult:
        """A run of the fleet state machine (each cluster one execution of the export state machine)."""
        return self.run(execution_input, name, timeout, FLEET_STATE_MACHINE)

    # -- observations ---------------------------------------------------------------------------
    def notifications(self) -> list[dict[str, Any]]:
        """Every message published to the template's topics, in order."""
        from moto.sns.models import sns_backends

        backend = sns_backends[self.account_id][self.region]
        result = []
        for topic_arn, topic in backend.topics.items():
            for message_id, message, subject, attributes, _group in topic.sent_notifications:
                result.append(
                    {"topic_arn": topic_arn, "message_id": message_id, "subject": subject, "message": message, "attributes": _plain_attributes(attributes)}
                )
        return result

    def export_tasks(self) -> list[dict[str, Any]]:
        """The export tasks of the lake account, then those of each source account (with its ``account_id``)."""
        result = self._export_tasks_of(self.rds)
        for account, simulator in self.source_rds.items():
            result += [{**task, "account_id": account} for task in self._export_tasks_of(simulator)]
        return result

    def snapshots_created(self) -> list[str]:
        """The snapshots the workflow created: the lake's by name, a source account's as ``ACCOUNT:name``."""
        created = list(self.rds.snapshots_created)
        for account, simulator in self.source_rds.items():
            created += [f"{account}:{name}" for name in simulator.snapshots_created]
        return created

    def _export_tasks_of(self, simulator: rds_sim.RdsSimulator) -> list[dict[str, Any]]:
        from moto.rds.models import rds_backends

        tasks = rds_backends[simulator.account_id][self.region].export_tasks
        result = []
        for task_id in simulator.export_task_ids:
            task = tasks.get(task_id)
            if task is None:
                continue
            result.append(
                {
                    "id": task.export_task_identifier,
                    "source_arn": task.source_arn,
                    "source_type": task.source_type,
                    "status": task.status,
                    "export_only": list(task.export_only or []),
                    "s3_bucket": task.s3_bucket,
                    "s3_prefix": task.s3_prefix,
                    "kms_key_id": task.kms_key_id,
                    "iam_role_arn": task.iam_role_arn,
                    "failure_cause": task.failure_cause,
                    "warning_message": task.warning_message,
                    # Simulated epoch seconds: when the task started and when it ends (or ended).
                    "started_at": task._run.started_at,
                    "ends_at": task._run.started_at + task._run.duration,
                }
            )
        return result

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """Every event of an execution, exactly as GetExecutionHistory returns them through boto3.

        Read from moto's Step Functions backend instead of through the API: moto's response
        serializer and botocore's parser cost a third of a run's CPU for a hundred events, and
        add nothing but what ``_as_returned`` does. tests/emulated_account checks that both
        ways give the same events, to their key order, types and time zones.
        """
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        backend = stepfunctions_parser_backends[self.account_id][self.region]
        shape = self.client("stepfunctions").meta.service_model.operation_model("GetExecutionHistory").output_shape
        return _as_returned(backend.get_execution_history(execution_arn), shape)["events"]

    def _result(self, execution_arn: str, described: dict[str, Any]) -> ExecutionResult:
        events = self.history(execution_arn)
        start = described["startDate"].timestamp()
        entries: list[StateEntry] = []
        transitions = 0
        scheduled_in_entry = 0
        max_payload = len(described.get("input", "").encode())
        for event in events:
            kind = event["type"]
            if kind.endswith("StateEntered"):
                details = event["stateEnteredEventDetails"]
                entries.append(StateEntry(details["name"], kind[: -len("StateEntered")], event["timestamp"].timestamp() - start))
                transitions += 1
                scheduled_in_entry = 0
            elif kind in ("LambdaFunctionScheduled", "TaskScheduled"):
                scheduled_in_entry += 1
                if scheduled_in_entry > 1:
                    transitions += 1  # a retry is billed as a transition
            for details in event.values():
                if isinstance(details, dict):
                    for key in ("input", "output"):
                        if isinstance(details.get(key), str):
                            max_payload = max(max_payload, len(details[key].encode()))
        end = described.get("stopDate")
        simulated = (end.timestamp() if end else self.clock.now()) - start
        output = described.get("output")
        with contextlib.suppress(TypeError, ValueError):
            output = json.loads(output) if output is not None else None
        snapshot_ids = self.snapshots_created()
        return ExecutionResult(
            execution_arn=execution_arn,
            started_at=start,
            status=described["status"],
            error=described.get("error"),
            cause=described.get("cause"),
            output=output,
            states=[entry.name for entry in entries],
            state_entries=entries,
            state_transitions=transitions,
            simulated_seconds=round(simulated, 3),
            snapshots_created=snapshot_ids,
            export_tasks=self.export_tasks(),
            athena_queries=self.athena.query_strings,
            notifications=[{k: n[k] for k in ("subject", "message", "attributes")} for n in self.notifications()],
            max_state_payload_bytes=max_payload,
            history=events,
        )


def _bus_policy_statements(properties: dict[str, Any]) -> list[dict[str, Any]]:
    """An ``AWS::Events::EventBusPolicy`` as policy statements (its ``Statement``, or the older Action/Principal form)."""
    if "Statement" in properties:
        statement = dict(properties["Statement"])
        statement.setdefault("Sid", properties.get("StatementId", ""))
        return [statement]
    principal = str(properties["Principal"])
    statement = {
        "Sid": properties.get("StatementId", ""),
        "Effect": "Allow",
        "Principal": "*" if principal == "*" else {"AWS": principal},
        "Action": properties["Action"],
        "Resource": f"arn:aws:events:{data.REGION}:{data.ACCOUNT_ID}:event-bus/{properties.get('EventBusName', 'default')}",
    }
    if properties.get("Condition"):
        condition = properties["Condition"]
        statement["Condition"] = {condition["Type"]: {condition["Key"]: condition["Value"]}}
    return [statement]


def _as_returned(value: Any, shape: Any) -> Any:
    """A value of moto's backend as boto3 returns it for ``shape`` (see ``EmulatedAccount.history``).

    What moto's serializer and botocore's parser do to it: members in the shape's order (absent
    ones left out), enumerations as their strings, timestamps as sent (epoch seconds, milliseconds
    kept) and read back by botocore's own parser.
    """
    kind = shape.type_name
    if kind == "structure":
        return {name: _as_returned(value[name], member) for name, member in shape.members.items() if value.get(name) is not None}
    if kind == "list":
        return [_as_returned(item, shape.member) for item in value]
    if kind == "map":
        return {key: _as_returned(item, shape.value) for key, item in value.items()}
    if kind == "timestamp":
        return _returned_timestamp(value)
    if isinstance(value, enum.Enum):
        return value.value
    return value


_ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z")


def _returned_timestamp(value: Any) -> Any:
    from botocore.utils import parse_timestamp, parse_to_aware_datetime
    from moto.core.serialize import TimestampSerializer

    if isinstance(value, str) and _ISO_UTC.fullmatch(value):
        # moto's own form; the same instant botocore's parse_to_aware_datetime reads, without dateutil.
        aware = _dt.datetime.fromisoformat(value[:-1]).replace(tzinfo=_dt.timezone.utc)
    else:
        aware = parse_to_aware_datetime(value)
    return parse_timestamp(TimestampSerializer._timestamp_unixtimestamp(aware))


def _plain_attributes(attributes: Any) -> dict[str, Any]:
    result = {}
    for name, value in (attributes or {}).items():
        if isinstance(value, dict):
            result[name] = value.get("Value", value.get("StringValue", value.get("BinaryValue")))
        else:
            result[name] = value
    return result


@contextlib.contextmanager
def _shared_interpreter_clients() -> Any:
    """One client per service (and credentials) for the interpreter's tasks instead of a new one per task.

    moto's Lambda, AWS SDK and Step Functions integrations each build a boto3 client for every
    task they run (5 to 12 ms of CPU each); every module that imported moto's
    ``boto_client_for`` gets the account's cached one.
    """
    import sys
    from unittest import mock

    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for
    cache: dict[tuple[Any, ...], Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service, repr(state_credentials))
        with lock:
            if key not in cache:
                cache[key] = original(region=region, service=service, state_credentials=state_credentials)
            return cache[key]

    modules = {lambda_eval_utils, *(
        module for name, module in list(sys.modules.items())
        if name.startswith("moto.stepfunctions.parser.") and getattr(module, "boto_client_for", None) is original
    )}
    with contextlib.ExitStack() as stack:
        for module in modules:
            stack.enter_context(mock.patch.object(module, "boto_client_for", boto_client_for))
        yield


@contextlib.contextmanager
def _interpreter_calls_attributed(account: EmulatedAccount) -> Any:
    """The calls a state's evaluation makes are the calls of the state machine that runs it.

    A Task state's work (``_eval_execution``) runs in a thread of its own, so the state machine's
    ARN, read from the execution's context object, is kept for that thread while the work runs.
    """
    import importlib
    from unittest import mock

    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState

    for module in ("state_task.state_task_lambda", "state_task.service.state_task_service_factory"):
        importlib.import_module(f"moto.stepfunctions.parser.asl.component.state.exec.{module}")

    def subclasses(cls: type) -> list[type]:
        return [cls, *(sub for direct in cls.__subclasses__() for sub in subclasses(direct))]

    def attributed(original: Any) -> Any:
        def eval_execution(state: Any, env: Any) -> None:
            machine_arn = env.states.context_object.context_object_data["StateMachine"]["Id"]
            with fault_injection.calls_made_by_state_machine(account.caller_of(machine_arn)):
                original(state, env)

        return eval_execution

    with contextlib.ExitStack() as stack:
        for cls in {c for c in subclasses(ExecutionState) if "_eval_execution" in vars(c)}:
            stack.enter_context(mock.patch.object(cls, "_eval_execution", attributed(vars(cls)["_eval_execution"])))
        yield


@contextlib.contextmanager
def _spent_task_tokens_refused() -> Any:
    """SendTaskSuccess with a spent token fails with TaskTimedOut or TaskDoesNotExist, as on AWS.

    moto raises both without the message its error class requires, which turns them into a
    TypeError inside the service instead of the API error.
    """
    from unittest import mock

    from moto.core.exceptions import AWSError
    from moto.stepfunctions.parser import models

    class TaskTimedOut(AWSError):
        TYPE = "TaskTimedOut"
        STATUS = 400

        def __init__(self, message: str = "The task's wait is over: it timed out.") -> None:
            super().__init__(message)

    class TaskDoesNotExist(AWSError):
        TYPE = "TaskDoesNotExist"
        STATUS = 400

        def __init__(self, message: str = "The task is no longer waiting for its token.") -> None:
            super().__init__(message)

    with mock.patch.object(models, "TaskTimedOut", TaskTimedOut), mock.patch.object(models, "TaskDoesNotExist", TaskDoesNotExist):
        yield


@contextlib.contextmanager
def _ended_executions() -> Iterator[set[str]]:
    """The ARNs of executions whose end moto has recorded in full.

    Moto's execution thread sets the status first and the output (or error and cause) after it,
    so an execution seen as SUCCEEDED may not have its output yet: the end is when that
    recording returns."""
    from unittest import mock

    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    ended: set[str] = set()
    original = BaseExecutionWorkerCommunication.terminated

    def terminated(communication: Any) -> None:
        try:
            original(communication)
        finally:
            ended.add(communication.execution.exec_arn)

    with mock.patch.object(BaseExecutionWorkerCommunication, "terminated", terminated):
        yield ended


@contextlib.contextmanager
def _on_sys_path(paths: Sequence[Path]) -> Any:
    """Make the functions' shared library importable (``import aurora_lake``) while the account runs."""
    import sys

    added = [str(p) for p in paths if str(p) not in sys.path]
    sys.path[:0] = added
    try:
        yield
    finally:
        for entry in added:
            with contextlib.suppress(ValueError):
                sys.path.remove(entry)


@contextlib.contextmanager
def _aws_environment(region: str) -> Any:
    import os
    from unittest import mock

    with mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": region, "AWS_REGION": region}):
        yield

