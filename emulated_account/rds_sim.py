"""Aurora cluster snapshots, RDS DB snapshots and snapshot exports that take (simulated) time.

moto creates snapshots already ``available`` and export tasks already
``complete`` (lower case) and writes nothing to S3. Here a snapshot is
``creating`` for a while, and an export task moves through ``STARTING``,
``IN_PROGRESS`` and ends ``COMPLETE``, ``FAILED`` or ``CANCELED`` with the
upper-case statuses AWS reports; a COMPLETE export writes the real S3 layout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from unittest import mock

from emulated_account import data, export_writer, fidelity
from emulated_account.clock import VirtualClock

if TYPE_CHECKING:
    from moto.rds.models import RDSBackend

RUNNING_STATUSES = ("STARTING", "IN_PROGRESS", "CANCELING")
MAX_RUNNING_EXPORTS = 5
# The RDS model declares no error for the 5-export limit; the code and message are the ones that
# public code handling real exports quotes (FIDELITY.md, error-code table).
EXPORT_QUOTA_ERROR_CODE = "ExportTaskLimitReachedFault"
EXPORT_QUOTA_MESSAGE = f"You have reached the limit of {MAX_RUNNING_EXPORTS} concurrent export tasks"
# UNCONFIRMED: the error for exporting a snapshot that is already being exported. The snapshot is
# not in a state that allows a new export, so the documented InvalidExportSourceState is used.
EXPORT_SOURCE_BUSY_ERROR_CODE = "InvalidExportSourceState"
CANCEL_SECONDS = 30.0
_IDENTIFIER = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]*(?<!-)$")
_EXPORT_ONLY_PART = re.compile(r"^[A-Za-z0-9$_]+$")


def export_progress(elapsed: float, duration: float) -> tuple[str, int]:
    """Status and PercentProgress of an export ``elapsed`` seconds into a ``duration``-second run.

    Real exports do not progress linearly: the task reports STARTING with 0%
    for the first 20% of its run, then progress that slows down toward the end
    (90% is reached at 70% of the time; the last 10% takes the last 30%, as the
    largest tables finish last), and COMPLETE at the end.
    """
    if duration <= 0 or elapsed >= duration:
        return "COMPLETE", 100
    fraction = max(elapsed, 0.0) / duration
    if fraction < 0.2:
        return "STARTING", 0
    if fraction < 0.7:
        percent = 90.0 * (fraction - 0.2) / 0.5
    else:
        percent = 90.0 + 10.0 * (fraction - 0.7) / 0.3
    return "IN_PROGRESS", min(99, int(percent))


def snapshot_progress(elapsed: float, duration: float) -> tuple[str, int]:
    """Status and PercentProgress of a cluster snapshot being created."""
    if duration <= 0 or elapsed >= duration:
        return "available", 100
    return "creating", min(99, int(100 * max(elapsed, 0.0) / duration))


@dataclass
class ExportBehaviour:
    """How the account's exports end. One behaviour applies to every export task."""

    duration_seconds: float = 900.0
    outcome: str = "complete"  # complete | failed | canceled
    failure_cause: str = "The export failed. Contact AWS support."
    # A user-supplied export_tables_info document: written verbatim, data files to match.
    tables_info: bytes | None = None
    # Targets (db.schema.table) that a COMPLETE export reports as skipped, with a WarningMessage.
    skipped_tables: Sequence[str] = ()
    # Replace the cluster's tables with this many generated ones (exports of thousands of tables).
    synthetic_tables: int | None = None
    tables_per_info_file: int = 100

    def __post_init__(self) -> None:
        self.outcome = self.outcome.lower()
        if self.outcome not in ("complete", "failed", "canceled"):
            raise ValueError(f"export outcome must be complete, failed or canceled, not {self.outcome!r}")
        if self.duration_seconds < 0:
            raise ValueError("export duration must not be negative")


def _rds_error(operation: str, code: str, message: str) -> Exception:
    """The error RDS returns; only a code the botocore model or the ledger gives ``operation``."""
    from moto.rds.exceptions import RDSClientError

    return RDSClientError(fidelity.check_code("rds", operation, code), message)


@dataclass
class _ExportRun:
    source_arn: str
    cluster: data.Cluster
    started_at: float
    duration: float
    outcome: str
    failure_cause: str
    canceled_at: float | None = None
    written: export_writer.ExportOutput | None = None
    settled: bool = False


class RdsSimulator:
    """Owns the timing of snapshots and export tasks of one emulated account."""

    def __init__(
        self,
        clock: VirtualClock,
        behaviour: ExportBehaviour | None = None,
        snapshot_seconds: float = 180.0,
        account_id: str = data.ACCOUNT_ID,
        region: str = data.REGION,
        clusters: Sequence[data.Cluster] | None = None,
        db_instances: Sequence[data.DbInstance] | None = None,
        source_tags: Callable[[str, str], list[dict[str, str]]] = data.source_tags,
        copy_tags_to_snapshot: frozenset[str] = data.COPY_TAGS_TO_SNAPSHOT,
    ) -> None:
        self.clock = clock
        # The tags each source's owner set (account, identifier) and the ACCOUNT:source that copy them to snapshots.
        self.source_tags = source_tags
        self.copy_tags_to_snapshot = copy_tags_to_snapshot
        # The clusters and DB instances of this account; None: the lake account's own (data.CLUSTERS, data.DB_INSTANCES).
        self.clusters = tuple(clusters) if clusters is not None else None
        self.db_instances = tuple(db_instances) if db_instances is not None else None
        # Decides the writes of this account's exports into a bucket of another account
        # (organization.Organization.export_write_refusal); None refuses every such write.
        self.cross_account_write_refusal: Any = None
        self.behaviour = behaviour or ExportBehaviour()
        self.snapshot_seconds = snapshot_seconds
        self.account_id = account_id
        self.region = region
        self.snapshots_created: list[str] = []
        self.export_task_ids: list[str] = []
        self.table_changes: dict[str, tuple[data.Table, ...]] = {}
        # DB instances created in this account beyond the declared ones (a test's own), by identifier.
        self.extra_db_instances: dict[str, data.DbInstance] = {}
        # Whether a lookup by name alone finds an AWS Backup recovery point (as AWS's export sample
        # relies on); False: only a lookup with SnapshotType awsbackup finds it.
        self.aws_backup_found_by_name = True
        self._lock = threading.RLock()
        clock.on_advance(lambda _now: self.settle())

    # -- moto backend access -------------------------------------------------------------------
    @property
    def backend(self) -> RDSBackend:
        from moto.rds.models import rds_backends

        return rds_backends[self.account_id][self.region]

    def cluster_for(self, identifier: str) -> data.Cluster | None:
        if self.clusters is not None:
            found = next((c for c in self.clusters if c.identifier == identifier), None)
            if found is None:
                return None
        else:
            try:
                found = data.cluster(identifier)
            except KeyError:
                return None
        tables = self.table_changes.get(found.identifier)
        return found if tables is None else dataclasses.replace(found, tables=tables)

    def set_tables(self, cluster_identifier: str, tables: Sequence[data.Table]) -> None:
        """What the cluster's databases hold from now on (as the application's users changed them)."""
        if self.cluster_for(cluster_identifier) is None:
            raise KeyError(f"{self.account_id}:{cluster_identifier}")  # a cluster of the account
        self.table_changes[cluster_identifier] = tuple(tables)

    def db_instance_for(self, identifier: str) -> data.DbInstance | None:
        if identifier in self.extra_db_instances:
            return self.extra_db_instances[identifier]
        if self.db_instances is not None:
            return next((i for i in self.db_instances if i.identifier == identifier), None)
        try:
            return data.db_instance(identifier)
        except KeyError:
            return None

    # -- setting up the account -----------------------------------------------------------------
    def create_clusters(self, clusters: Sequence[data.Cluster] | None = None) -> None:
        clusters = clusters if clusters is not None else (self.clusters if self.clusters is not None else data.CLUSTERS)
        for spec in clusters:
            self.backend.create_db_cluster(
                {
                    "db_cluster_identifier": spec.identifier,
                    "engine": spec.engine,
                    "engine_version": spec.engine_version,
                    "database_name": spec.databases[0],
                    "master_username": "admin_user",
                    "master_user_password": "not-a-real-password-1",
                    "storage_encrypted": True,
                    # The owner's opt-in (a source account's), and whether snapshots copy it.
                    "tags": self.source_tags(self.account_id, spec.identifier),
                    "copy_tags_to_snapshot": f"{self.account_id}:{spec.identifier}" in self.copy_tags_to_snapshot,
                }
            )
        # moto reports a new cluster "creating" once, on the first read of its status; the account's
        # clusters have existed for long, so that read happens here.
        for spec in clusters:
            _ = self.backend.clusters[spec.identifier].status
        # moto takes an automated snapshot named after today's real date when it creates a cluster:
        # the account's snapshots are the ones it declares, on its own clock.
        for identifier in [i for i, s in self.backend.cluster_snapshots.items() if s.snapshot_type == "automated"]:
            del self.backend.cluster_snapshots[identifier]

    def create_db_instances(self, instances: Sequence[data.DbInstance] | None = None) -> None:
        if instances is None:
            instances = self.db_instances if self.db_instances is not None else data.DB_INSTANCES
        for spec in instances:
            if spec not in data.DB_INSTANCES and spec not in (self.db_instances or ()):
                self.extra_db_instances[spec.identifier] = spec
            self.backend.create_db_instance(
                {
                    "db_instance_identifier": spec.identifier,
                    "db_instance_class": "db.t4g.medium",
                    "engine": spec.engine,
                    "engine_version": spec.engine_version,
                    "db_name": spec.databases[0],
                    "allocated_storage": 20,
                    "storage_type": spec.storage_type,
                    "master_username": "admin_user",
                    "master_user_password": "not-a-real-password-1",
                    "storage_encrypted": True,
                    # moto knows no default port for RDS Custom engines.
                    "port": 1433 if "sqlserver" in spec.engine else None,
                    "tags": self.source_tags(self.account_id, spec.identifier),
                    "copy_tags_to_snapshot": f"{self.account_id}:{spec.identifier}" in self.copy_tags_to_snapshot,
                }
            )
        # As for clusters: moto's automated snapshot of a new DB instance is dated by the wall clock.
        for identifier in [i for i, s in self.backend.database_snapshots.items() if s.snapshot_type == "automated"]:
            del self.backend.database_snapshots[identifier]

    def add_db_snapshot(
        self, db_instance_identifier: str, snapshot_identifier: str, snapshot_type: str = "manual", tags: list[dict[str, str]] | None = None
    ) -> str:
        """An existing DB snapshot, already available (automated ``rds:...``, AWS Backup ``awsbackup:...``).

        ``tags`` None: the DB instance's, when it copies tags to snapshots (moto's rule, as RDS's).
        """
        snapshot = self.backend.create_db_snapshot(db_instance_identifier, snapshot_identifier, snapshot_type, tags)
        _make_simulated_snapshot(
            snapshot, self, ready_after=0.0, created_at=_time_in_name(snapshot_identifier) or self.clock.now() - 3600, kind="instance"
        )
        return snapshot.arn

    def add_snapshot(
        self, cluster_identifier: str, snapshot_identifier: str, snapshot_type: str = "manual", tags: list[dict[str, str]] | None = None
    ) -> str:
        """An existing snapshot, already available (for example an automated one, ``rds:...``).

        ``tags`` None: the cluster's, when it copies tags to snapshots (moto's rule, as RDS's).
        """
        snapshot = self.backend.create_db_cluster_snapshot(cluster_identifier, snapshot_identifier, snapshot_type, tags)
        _make_simulated_snapshot(snapshot, self, ready_after=0.0, created_at=_time_in_name(snapshot_identifier) or self.clock.now() - 3600)
        return snapshot.arn

    # -- settling ------------------------------------------------------------------------------
    def settle(self) -> None:
        """Write the output of every export that has completed by now (once)."""
        with self._lock:
            tasks = list(self.backend.export_tasks.values())
        for task in tasks:
            run: _ExportRun | None = getattr(task, "_run", None)
            if run is None or run.settled:
                continue
            if task.status == "COMPLETE":
                with self._lock:
                    if run.settled:
                        continue
                    run.settled = True
                    run.written = self._write_output(task, run)
            elif task.status in ("FAILED", "CANCELED"):
                run.settled = True

    def _tables_for(self, run: _ExportRun, export_only: Sequence[str]) -> list[data.Table]:
        if self.behaviour.synthetic_tables:
            tables: Sequence[data.Table] = data.synthetic_tables(
                self.behaviour.synthetic_tables, database=run.cluster.databases[0], schema="public" if run.cluster.is_postgres else run.cluster.databases[0]
            )
        else:
            tables = run.cluster.tables
        if not export_only:
            return list(tables)
        return [table for table in tables if any(_matches(entry, table, run.cluster) for entry in export_only)]

    def _write_output(self, task: Any, run: _ExportRun) -> export_writer.ExportOutput:
        from moto.s3.models import s3_backends

        s3 = s3_backends[self.account_id]["aws"]
        kms_key = task.kms_key_id

        def put(key: str, body: bytes) -> None:
            s3.put_object(task.s3_bucket, key, body, encryption="aws:kms", kms_key_id=kms_key)

        end = run.started_at + run.duration
        info = {
            "exportTaskIdentifier": task.export_task_identifier,
            "sourceArn": task.source_arn,
            "exportOnly": list(task.export_only or []),
            "snapshotTime": export_writer._iso(run.started_at),
            "taskStartTime": export_writer._iso(run.started_at),
            "taskEndTime": export_writer._iso(end),
            "s3Bucket": task.s3_bucket,
            "s3Prefix": task.s3_prefix or "",
            "iamRoleArn": task.iam_role_arn,
            "kmsKeyId": kms_key,
            "status": "COMPLETE",
            "percentProgress": 100,
        }
        if self.behaviour.tables_info is not None:
            return export_writer.write_custom_export(
                put, export_id=task.export_task_identifier, prefix=task.s3_prefix or "", tables_info=self.behaviour.tables_info, info=info
            )
        skipped = [(target, _skip_reason(target)) for target in self.behaviour.skipped_tables]
        return export_writer.write_export(
            put,
            export_id=task.export_task_identifier,
            prefix=task.s3_prefix or "",
            tables=self._tables_for(run, list(task.export_only or [])),
            skipped=skipped,
            info=info,
            tables_per_info_file=self.behaviour.tables_per_info_file,
            start_time=run.started_at,
            end_time=end,
        )

    # -- the patched backend operations ----------------------------------------------------------
    def describe_snapshots_by_name(self, response: Any, original: Any, kind: str) -> Any:
        """DescribeDB(Cluster)Snapshots: a lookup by name alone as the RDS model describes it.

        The identifier's constraint asks for SnapshotType for an automated snapshot, so a name alone
        finds a manual snapshot or, when ``aws_backup_found_by_name``, an AWS Backup recovery point
        (never an automated one). moto filters such a lookup to manual and automated snapshots, as a
        listing is; every other form is moto's own.
        """
        from moto.core.responses import ActionResult
        from moto.rds.exceptions import DBClusterSnapshotNotFoundError, DBSnapshotNotFoundFault

        identifier_key, source_key, list_key, method = _SNAPSHOT_LOOKUPS[kind]
        params = response.params
        if not params.get(identifier_key) or any(params.get(key) for key in ("SnapshotType", source_key, "Filters")):
            return original(response)
        describe = getattr(response.backend, method)
        identifier = params[identifier_key]
        if self.aws_backup_found_by_name:
            try:
                return ActionResult({list_key: describe(None, identifier, "manual", {})})
            except (DBSnapshotNotFoundFault, DBClusterSnapshotNotFoundError):
                pass  # not a manual snapshot: perhaps a recovery point
            return ActionResult({list_key: describe(None, identifier, "awsbackup", {})})
        return ActionResult({list_key: describe(None, identifier, "manual", {})})

    def create_db_cluster_snapshot(self, original: Any, backend: Any, *args: Any, **kwargs: Any) -> Any:
        snapshot = original(backend, *args, **kwargs)
        _make_simulated_snapshot(snapshot, self, ready_after=self.snapshot_seconds, created_at=self.clock.now())
        self.snapshots_created.append(snapshot.db_cluster_snapshot_identifier)
        return snapshot

    def create_db_snapshot(self, original: Any, backend: Any, *args: Any, **kwargs: Any) -> Any:
        snapshot = original(backend, *args, **kwargs)
        _make_simulated_snapshot(snapshot, self, ready_after=self.snapshot_seconds, created_at=self.clock.now(), kind="instance")
        self.snapshots_created.append(snapshot.db_snapshot_identifier)
        return snapshot

    def start_export_task(self, backend: Any, kwargs: dict[str, Any]) -> Any:
        from moto.rds.models import ExportTask
        from moto.s3.models import s3_backends

        export_id = kwargs.get("export_task_identifier") or ""
        source_arn = kwargs.get("source_arn") or ""
        if not _IDENTIFIER.match(export_id) or len(export_id) > 60:
            raise _rds_error(
                "StartExportTask",
                "InvalidParameterValue",
                f"The export task identifier {export_id!r} is invalid: it must begin with a letter, hold only ASCII "
                "letters, digits and hyphens, not end with a hyphen or hold two consecutive hyphens.",
            )
        if export_id in backend.export_tasks:
            raise _rds_error("StartExportTask", "ExportTaskAlreadyExists", f"Cannot start export task because a task with the identifier {export_id} already exists.")
        arn_parts = source_arn.split(":", 6)
        if len(arn_parts) != 7 or arn_parts[2] != "rds":
            raise _rds_error("StartExportTask", "InvalidParameterValue", f"The source ARN {source_arn!r} is not a valid RDS ARN.")
        resource_type, snapshot_id = arn_parts[5], arn_parts[6]
        database: data.Cluster | None
        if resource_type == "snapshot":
            if snapshot_id.lower() not in backend.database_snapshots:
                raise _rds_error("StartExportTask", "DBSnapshotNotFound", f"DBSnapshot {snapshot_id} not found.")
            source, source_type = backend.database_snapshots[snapshot_id.lower()], "SNAPSHOT"
            if source.status != "available":
                raise _rds_error("StartExportTask", "InvalidExportSourceState", f"Export source should be 'available' but current status is {source.status}.")
            database = self.db_instance_for(source.db_instance_identifier)
            if database is not None and database.engine not in ("mysql", "mariadb", "postgres"):
                # RDS Custom, Db2, Oracle and SQL Server snapshots cannot be exported (StartExportTask
                # reference); UNCONFIRMED which error code RDS answers: the documented state error is used.
                raise _rds_error("StartExportTask", "InvalidExportSourceState", f"Snapshots of {database.engine} DB instances can't be exported to Amazon S3.")
        elif resource_type == "cluster":
            source, source_type = self._exportable_cluster(backend, snapshot_id), "CLUSTER"
            database = self.cluster_for(source.db_cluster_identifier)
        else:
            if resource_type != "cluster-snapshot" or snapshot_id.lower() not in backend.cluster_snapshots:
                raise _rds_error("StartExportTask", "DBClusterSnapshotNotFoundFault", f"DBClusterSnapshot {snapshot_id} not found.")
            source, source_type = backend.cluster_snapshots[snapshot_id.lower()], "SNAPSHOT"
            if source.status != "available":
                raise _rds_error("StartExportTask", "InvalidExportSourceState", f"Export source should be 'available' but current status is {source.status}.")
            database = self.cluster_for(source.db_cluster_identifier)
        prefix = kwargs.get("s3_prefix") or ""
        if ":" in prefix:
            raise _rds_error("StartExportTask", "InvalidParameterValue", "The S3 prefix can't contain a colon (:).")
        bucket = kwargs.get("s3_bucket_name") or ""
        # S3 bucket names are global: the bucket may belong to another account (the lake's).
        if bucket not in s3_backends[self.account_id]["aws"].buckets and bucket not in s3_backends.bucket_accounts:
            raise _rds_error("StartExportTask", "InvalidS3BucketFault", f"The S3 bucket {bucket} doesn't exist.")
        self._check_role(kwargs.get("iam_role_arn") or "")
        self._check_kms_key(kwargs.get("kms_key_id") or "")
        refusal = self._cross_account_refusal(bucket, kwargs, export_id)
        cluster = database
        if cluster is None:
            raise _rds_error("StartExportTask", "InvalidExportSourceState", f"The source of {source_arn} is not known to the export simulator.")
        export_only = list(kwargs.get("export_only") or [])
        _check_export_only(export_only, cluster)
        running = [t for t in backend.export_tasks.values() if t.status in RUNNING_STATUSES]
        if any(t.source_arn == source.arn for t in running):
            what = "cluster" if source_type == "CLUSTER" else "snapshot"
            raise _rds_error("StartExportTask", EXPORT_SOURCE_BUSY_ERROR_CODE, f"The {what} {snapshot_id} is already being exported.")
        if len(running) >= MAX_RUNNING_EXPORTS:
            raise _rds_error("StartExportTask", EXPORT_QUOTA_ERROR_CODE, EXPORT_QUOTA_MESSAGE)

        kwargs = dict(kwargs)
        kwargs["source_arn"] = source.arn
        kwargs.setdefault("s3_prefix", "")
        task = ExportTask(backend, source, kwargs)
        task.__class__ = _simulated_classes_cached()[1]
        # moto calls every export of a cluster snapshot CLUSTER; RDS says SNAPSHOT unless the source is the cluster.
        task.source_type = source_type
        task._run = _ExportRun(
            source_arn=source.arn,
            cluster=cluster,
            started_at=self.clock.now(),
            duration=float(self.behaviour.duration_seconds),
            outcome="failed" if refusal else self.behaviour.outcome,
            failure_cause=refusal or self.behaviour.failure_cause,
        )
        task._clock = self.clock
        task._simulator = self
        task.export_only = export_only
        backend.export_tasks[export_id] = task
        self.export_task_ids.append(export_id)
        return task

    @staticmethod
    def _exportable_cluster(backend: Any, identifier: str) -> Any:
        """A cluster whose data can be exported directly (provisioned Aurora only, per the Aurora user guide)."""
        cluster = backend.clusters.get(identifier.lower()) or backend.clusters.get(identifier)
        if cluster is None:
            raise _rds_error("StartExportTask", "DBClusterNotFoundFault", f"DBCluster {identifier} not found.")
        if getattr(cluster, "engine_mode", "provisioned") != "provisioned":
            # UNCONFIRMED: the error code for a Serverless v1 cluster; the documented InvalidExportSourceState is used.
            raise _rds_error("StartExportTask", "InvalidExportSourceState", f"DB cluster {identifier} is {cluster.engine_mode}; only provisioned clusters can be exported.")
        status = cluster.status
        if status != "available":
            raise _rds_error("StartExportTask", "InvalidExportSourceState", f"Export source should be 'available' but current status is {status}.")
        return cluster

    def describe_export_tasks(self, backend: Any, export_task_identifier: str | None, source_arn: str | None = None, filters: dict[str, list[str]] | None = None, source_type: str | None = None) -> list[Any]:
        self.settle()
        tasks = list(backend.export_tasks.values())
        if export_task_identifier:
            tasks = [t for t in tasks if t.export_task_identifier == export_task_identifier]
            if not tasks:
                raise _rds_error("DescribeExportTasks", "ExportTaskNotFound", f"Cannot find export task with identifier {export_task_identifier}.")
        if source_arn:
            tasks = [t for t in tasks if t.source_arn == source_arn]
        if source_type:
            tasks = [t for t in tasks if t.source_type == source_type]
        for name, values in (filters or {}).items():
            # Filter values are documented in lower case (status values) but compare without case.
            wanted = {v.lower() for v in values}
            attribute = {
                "export-task-identifier": "export_task_identifier",
                "s3-bucket": "s3_bucket",
                "source-arn": "source_arn",
                "status": "status",
            }.get(name)
            if attribute is None:
                raise _rds_error("DescribeExportTasks", "InvalidParameterValue", f"Unrecognized filter name: {name}.")
            tasks = [t for t in tasks if str(getattr(t, attribute, "")).lower() in wanted]
        return tasks

    def export_endings(self) -> list[tuple[Any, float]]:
        """Every simulated export task with the instant it ends (or ended)."""
        with self._lock:
            tasks = list(self.backend.export_tasks.values())
        endings = []
        for task in tasks:
            run: _ExportRun | None = getattr(task, "_run", None)
            if run is not None:
                ended_at = run.canceled_at + CANCEL_SECONDS if run.canceled_at is not None else run.started_at + run.duration
                endings.append((task, ended_at))
        return endings

    def cancel_export_task(self, backend: Any, export_task_identifier: str) -> Any:
        task = backend.export_tasks.get(export_task_identifier)
        if task is None:
            raise _rds_error("CancelExportTask", "ExportTaskNotFound", f"Export task {export_task_identifier} not found.")
        if task.status not in ("STARTING", "IN_PROGRESS"):
            raise _rds_error("CancelExportTask", "InvalidExportTaskStateFault", f"Export task {export_task_identifier} is {task.status} and can't be canceled.")
        task._run.canceled_at = self.clock.now()
        return task

    def _cross_account_refusal(self, bucket: str, kwargs: dict[str, Any], export_id: str) -> str | None:
        """Why the export may not write into ``bucket`` of another account (None: same account, or allowed).

        UNCONFIRMED when RDS finds out: the task starts and ends FAILED with the refusal as its
        FailureCause, and nothing is written (FIDELITY.md, organization).
        """
        from moto.s3.models import s3_backends

        owner = s3_backends.bucket_accounts.get(bucket, ("aws", self.account_id))[1]
        if owner == self.account_id:
            return None
        role_arn = kwargs.get("iam_role_arn") or ""
        prefix = kwargs.get("s3_prefix") or ""
        if self.cross_account_write_refusal is None:
            return f"S3 refused s3:PutObject into s3://{bucket}/{prefix} to {role_arn}: the bucket belongs to account {owner}, which grants this account nothing."
        refusal: str | None = self.cross_account_write_refusal(role_arn, bucket, prefix, export_id, kwargs.get("kms_key_id") or "")
        return refusal

    def _check_role(self, role_arn: str) -> None:
        from moto.iam.models import iam_backends

        name = role_arn.rsplit("/", 1)[-1]
        roles = iam_backends[self.account_id]["global"].roles.values()
        if not any(r.arn == role_arn or r.name == name and role_arn == name for r in roles):
            raise _rds_error("StartExportTask", "IamRoleNotFound", f"The IAM role {role_arn} doesn't exist.")

    def _check_kms_key(self, key_id: str) -> None:
        from moto.kms.models import kms_backends

        # A key of another account is named by its ARN (FIDELITY.md, organization): look there.
        owner = key_id.split(":")[4] if key_id.startswith("arn:") and key_id.count(":") >= 5 else self.account_id
        try:
            key = kms_backends[owner][self.region].describe_key(key_id)
        except Exception:
            key = None
        if key is None or not key_id:
            raise _rds_error("StartExportTask", "KMSKeyNotAccessibleFault", f"The KMS key {key_id} is not accessible.")


# The events RDS sends to EventBridge when an export ends, by the kind of its source (Aurora user
# guide, "Amazon RDS event categories and event messages": DB cluster snapshot events 0162-0164,
# DB cluster events 0234-0236). detail-type by source type as public code that handles RDS events
# spells it; the messages are the documented ones.
EXPORT_FINISHED_EVENTS: dict[str, dict[str, Any]] = {
    "cluster-snapshot": {
        "detail-type": "RDS DB Cluster Snapshot Event",
        "SourceType": "CLUSTER_SNAPSHOT",
        "COMPLETE": ("RDS-EVENT-0164", "The cluster snapshot export task completed."),
        "FAILED": ("RDS-EVENT-0162", "The cluster snapshot export task failed."),
        "CANCELED": ("RDS-EVENT-0163", "The cluster snapshot export task was canceled."),
    },
    "cluster": {
        "detail-type": "RDS DB Cluster Event",
        "SourceType": "CLUSTER",
        "COMPLETE": ("RDS-EVENT-0236", "Export task completed."),
        "FAILED": ("RDS-EVENT-0234", "Export task failed."),
        "CANCELED": ("RDS-EVENT-0235", "Export task canceled."),
    },
    # DB snapshot events 0159-0161 (RDS User Guide, the same table's "DB snapshot events").
    "snapshot": {
        "detail-type": "RDS DB Snapshot Event",
        "SourceType": "SNAPSHOT",
        "COMPLETE": ("RDS-EVENT-0161", "Snapshot export task completed."),
        "FAILED": ("RDS-EVENT-0159", "Snapshot export task failed."),
        "CANCELED": ("RDS-EVENT-0160", "Snapshot export task canceled."),
    },
}


def export_finished_event(task: Any, ended_at: float, region: str, account_id: str) -> dict[str, Any]:
    """The EventBridge event RDS sends when ``task`` ends at ``ended_at``.

    The event names the exported source (SourceIdentifier, SourceArn), not the export task:
    the documented messages carry no task identifier.
    """
    import uuid

    source_arn = task.source_arn
    resource_type, _, name = source_arn.split(":", 5)[5].partition(":")
    kind = EXPORT_FINISHED_EVENTS.get(resource_type)
    if kind is None:
        raise ValueError(f"no export event is known for a source of type {resource_type!r} ({source_arn})")
    status = {"COMPLETE": "COMPLETE", "FAILED": "FAILED", "CANCELED": "CANCELED"}.get(task.status)
    if status is None:
        raise ValueError(f"export task {task.export_task_identifier} has not ended (status {task.status})")
    event_id, message = kind[status]
    when = dt.datetime.fromtimestamp(ended_at, tz=dt.timezone.utc)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": kind["detail-type"],
        "source": "aws.rds",
        "account": account_id,
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [source_arn],
        "detail": {
            "EventCategories": ["notification"],
            "SourceType": kind["SourceType"],
            "SourceArn": source_arn,
            "Date": when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z",
            "Message": message,
            "SourceIdentifier": name,
            "EventID": event_id,
        },
    }


def _skip_reason(target: str) -> str:
    return f"Table {target} was skipped: it has a column name with characters the export does not support."


def _matches(entry: str, table: data.Table, cluster: data.Cluster) -> bool:
    parts = entry.split(".")
    if cluster.is_postgres:
        names = (table.database, table.schema, table.name)
    else:
        names = (table.database, table.name)
    return tuple(parts) == names[: len(parts)]


def _check_export_only(entries: Sequence[str], cluster: data.Cluster) -> None:
    limit = 3 if cluster.is_postgres else 2
    problems = []
    for entry in entries:
        parts = entry.split(".")
        if len(parts) > limit or not all(_EXPORT_ONLY_PART.match(p) for p in parts):
            problems.append(entry)
    if problems:
        raise _rds_error("StartExportTask", "InvalidExportOnly", f"The ExportOnly entries {problems} are not valid for a {cluster.engine} snapshot.")


def _time_in_name(snapshot_identifier: str) -> float | None:
    """The time RDS puts in automated snapshot names (``rds:CLUSTER-YYYY-MM-DD-HH-MM``), so they sort as on AWS."""
    found = re.search(r"(\d{4})-(\d{2})-(\d{2})(?:-(\d{2})-(\d{2}))?$", snapshot_identifier)
    if not found:
        return None
    year, month, day, hour, minute = (int(part) if part else 0 for part in found.groups())
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.timezone.utc).timestamp()


def _make_simulated_snapshot(snapshot: Any, simulator: RdsSimulator, ready_after: float, created_at: float, kind: str = "cluster") -> None:
    snapshot.__class__ = _simulated_classes_cached()[0] if kind == "cluster" else _simulated_db_snapshot_class()
    snapshot._clock = simulator.clock
    snapshot._created_at = created_at
    snapshot._ready_after = ready_after
    snapshot._forced_status = None


def _simulated_classes() -> tuple[type, type]:
    from moto.rds.models import DBClusterSnapshot, ExportTask

    class SimulatedClusterSnapshot(DBClusterSnapshot):
        """A cluster snapshot that is ``creating`` until its simulated creation time has passed."""

        _clock: VirtualClock
        _created_at: float
        _ready_after: float
        _forced_status: str | None

        @property  # type: ignore[override]
        def status(self) -> str:
            if self._forced_status:
                return self._forced_status
            return snapshot_progress(self._clock.now() - self._created_at, self._ready_after)[0]

        @status.setter
        def status(self, value: str) -> None:
            if "_clock" in self.__dict__:
                self._forced_status = value

        @property  # type: ignore[override]
        def percent_progress(self) -> int:
            return snapshot_progress(self._clock.now() - self._created_at, self._ready_after)[1]

        @percent_progress.setter
        def percent_progress(self, value: int) -> None:
            pass

        @property
        def snapshot_create_time(self) -> dt.datetime:
            return dt.datetime.fromtimestamp(self._created_at, tz=dt.timezone.utc)

    class SimulatedExportTask(ExportTask):
        """An export task whose status and progress follow ``export_progress`` on the virtual clock."""

        _run: _ExportRun
        _clock: VirtualClock
        _simulator: RdsSimulator

        def _elapsed(self) -> float:
            return self._clock.now() - self._run.started_at

        @property  # type: ignore[override]
        def status(self) -> str:
            run = self._run
            if run.canceled_at is not None:
                return "CANCELED" if self._clock.now() >= run.canceled_at + CANCEL_SECONDS else "CANCELING"
            status, _ = export_progress(self._elapsed(), run.duration)
            if status == "COMPLETE" and run.outcome != "complete":
                return run.outcome.upper()
            return status

        @status.setter
        def status(self, value: str) -> None:
            pass  # moto's constructor sets "complete"; the simulated status is derived from time

        @property
        def percent_progress(self) -> int:
            run = self._run
            if self.status in ("FAILED", "CANCELED", "CANCELING"):
                stop = run.canceled_at if run.canceled_at is not None else run.started_at + run.duration
                return export_progress(min(stop - run.started_at, run.duration * 0.999), run.duration)[1]
            return export_progress(self._elapsed(), run.duration)[1]

        @property
        def task_start_time(self) -> dt.datetime | None:
            if self.status == "STARTING":
                return None
            return dt.datetime.fromtimestamp(self._run.started_at, tz=dt.timezone.utc)

        @property
        def task_end_time(self) -> dt.datetime | None:
            run = self._run
            status = self.status
            if status == "CANCELED" and run.canceled_at is not None:
                return dt.datetime.fromtimestamp(run.canceled_at + CANCEL_SECONDS, tz=dt.timezone.utc)
            if status in ("COMPLETE", "FAILED", "CANCELED"):
                return dt.datetime.fromtimestamp(run.started_at + run.duration, tz=dt.timezone.utc)
            return None

        @property
        def snapshot_time(self) -> dt.datetime:
            if self.source_type == "CLUSTER":  # RDS clones the cluster when the task starts
                return dt.datetime.fromtimestamp(self._run.started_at, tz=dt.timezone.utc)
            snapshot = self.snapshot
            created = getattr(snapshot, "_created_at", None)
            if created is not None:
                return dt.datetime.fromtimestamp(created, tz=dt.timezone.utc)
            return snapshot.created

        @property
        def failure_cause(self) -> str | None:
            return self._run.failure_cause if self.status == "FAILED" else None

        @property
        def warning_message(self) -> str | None:
            skipped = self._simulator.behaviour.skipped_tables
            if self.status != "COMPLETE" or not skipped:
                return None
            import json

            return json.dumps({"skippedTables": list(skipped), "skippedObjectives": [], "general": []}, separators=(",", ":"))

        @property
        def total_extracted_data_in_gb(self) -> int | None:
            if self.status != "COMPLETE":
                return None
            self._simulator.settle()
            written = self._run.written
            # The API reports whole gigabytes; a small export reports 0.
            return int(written.total_gb) if written else 0

    return SimulatedClusterSnapshot, SimulatedExportTask


SimulatedClusterSnapshot: type
SimulatedExportTask: type
_DB_SNAPSHOT_CLASS: type | None = None


def _simulated_db_snapshot_class() -> type:
    """A DB snapshot that is ``creating`` until its simulated creation time has passed (as a cluster snapshot)."""
    global _DB_SNAPSHOT_CLASS
    if _DB_SNAPSHOT_CLASS is None:
        from moto.rds.models import DBSnapshot

        cluster_snapshot = _simulated_classes_cached()[0]
        timed = {name: cluster_snapshot.__dict__[name] for name in ("status", "percent_progress", "snapshot_create_time")}
        _DB_SNAPSHOT_CLASS = type("SimulatedDBSnapshot", (DBSnapshot,), {**timed, "__module__": __name__})
    return _DB_SNAPSHOT_CLASS


def __getattr__(name: str) -> Any:
    # The classes subclass moto's models; build them on first use so importing this module stays cheap.
    if name in ("SimulatedClusterSnapshot", "SimulatedExportTask"):
        snapshot_cls, task_cls = _simulated_classes_cached()
        return snapshot_cls if name == "SimulatedClusterSnapshot" else task_cls
    raise AttributeError(name)


_CLASSES: tuple[type, type] | None = None


def _simulated_classes_cached() -> tuple[type, type]:
    global _CLASSES
    if _CLASSES is None:
        _CLASSES = _simulated_classes()
    return _CLASSES


# DescribeDBSnapshots and DescribeDBClusterSnapshots: (identifier parameter, source parameter,
# response list, backend and response method).
_SNAPSHOT_LOOKUPS = {
    "instance": ("DBSnapshotIdentifier", "DBInstanceIdentifier", "DBSnapshots", "describe_db_snapshots"),
    "cluster": ("DBClusterSnapshotIdentifier", "DBClusterIdentifier", "DBClusterSnapshots", "describe_db_cluster_snapshots"),
}


@contextlib.contextmanager
def installed(simulator: RdsSimulator, *others: RdsSimulator) -> Iterator[RdsSimulator]:
    """Route moto's RDS snapshot and export operations through ``simulator`` (and ``others``, one per account).

    Each call goes to the simulator of the account whose backend serves it (the caller's
    credentials decide it); an account with no simulator fails loudly, naming it.
    """
    from moto.rds.models import RDSBackend
    from moto.rds.responses import RDSResponse

    by_account = {s.account_id: s for s in (simulator, *others)}

    def simulator_of(backend: Any) -> RdsSimulator:
        found = by_account.get(backend.account_id)
        if found is None:
            raise NotImplementedError(f"RDS was called in account {backend.account_id}, which the emulated account does not simulate (it simulates {sorted(by_account)})")
        return found

    original_create = RDSBackend.create_db_cluster_snapshot
    original_create_db_snapshot = RDSBackend.create_db_snapshot

    def create_db_cluster_snapshot(backend: Any, *args: Any, **kwargs: Any) -> Any:
        return simulator_of(backend).create_db_cluster_snapshot(original_create, backend, *args, **kwargs)

    def create_db_snapshot(backend: Any, *args: Any, **kwargs: Any) -> Any:
        return simulator_of(backend).create_db_snapshot(original_create_db_snapshot, backend, *args, **kwargs)

    def start_export_task(backend: Any, kwargs: dict[str, Any]) -> Any:
        return simulator_of(backend).start_export_task(backend, kwargs)

    def cancel_export_task(backend: Any, export_task_identifier: str) -> Any:
        return simulator_of(backend).cancel_export_task(backend, export_task_identifier)

    original_describe_snapshots = {kind: getattr(RDSResponse, _SNAPSHOT_LOOKUPS[kind][3]) for kind in _SNAPSHOT_LOOKUPS}

    def by_name(kind: str) -> Any:
        def describe(self: Any) -> Any:
            return simulator_of(self.backend).describe_snapshots_by_name(self, original_describe_snapshots[kind], kind)

        return describe

    def describe_export_tasks_response(self: Any) -> Any:
        from moto.core.responses import ActionResult

        filters = {f["Name"]: f["Values"] for f in self.params.get("Filters", [])}
        tasks = simulator_of(self.backend).describe_export_tasks(
            self.backend,
            self.params.get("ExportTaskIdentifier"),
            self.params.get("SourceArn"),
            filters,
            self.params.get("SourceType"),
        )
        return ActionResult({"ExportTasks": tasks})

    # moto warns when an error code is not in the RDS model; the quota code is deliberately not.
    # A process-wide filter, not catch_warnings(): that would restore the whole filter list when
    # the account closes and drop the filters the functions' modules installed meanwhile.
    warnings.filterwarnings("ignore", message=f".*{EXPORT_QUOTA_ERROR_CODE}.*")
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(RDSBackend, "create_db_cluster_snapshot", create_db_cluster_snapshot))
        stack.enter_context(mock.patch.object(RDSBackend, "create_db_snapshot", create_db_snapshot))
        stack.enter_context(mock.patch.object(RDSBackend, "start_export_task", start_export_task))
        stack.enter_context(mock.patch.object(RDSBackend, "cancel_export_task", cancel_export_task))
        stack.enter_context(mock.patch.object(RDSResponse, "describe_export_tasks", describe_export_tasks_response))
        for kind, (*_, method) in _SNAPSHOT_LOOKUPS.items():
            stack.enter_context(mock.patch.object(RDSResponse, method, by_name(kind)))
        yield simulator


__all__ = [
    "EXPORT_QUOTA_ERROR_CODE",
    "EXPORT_QUOTA_MESSAGE",
    "EXPORT_SOURCE_BUSY_ERROR_CODE",
    "ExportBehaviour",
    "MAX_RUNNING_EXPORTS",
    "RdsSimulator",
    "export_finished_event",
    "export_progress",
    "installed",
    "snapshot_progress",
]
