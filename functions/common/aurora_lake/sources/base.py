"""What every kind of export source offers the steps: one interface, one object per kind.

RDS exports two kinds of database the same way (StartExportTask on a snapshot ARN), but
names every call, field and error of each kind differently: an Aurora DB cluster has
cluster snapshots (DescribeDBClusterSnapshots, ``DBClusterSnapshotArn``, ...), an RDS DB
instance has DB snapshots (DescribeDBSnapshots, ``DBSnapshotArn``, ...). A ``Source``
hides those differences; the steps (snapshots.py, exports.py) only ever ask it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from aurora_lake import naming
from aurora_lake.errors import WorkflowError, error_code


@dataclass(frozen=True)
class SnapshotDescription:
    """A snapshot as RDS describes it, in the same words for both kinds of source."""

    arn: str
    identifier: str
    source_identifier: str | None
    engine: str | None
    engine_version: str | None
    snapshot_type: str | None
    status: str
    percent_progress: int
    created_at: dt.datetime | None
    storage_type: str | None = None


class Source:
    """One kind of export source. Subclasses fill in the RDS names of their kind."""

    kind: str  # "cluster" | "instance": the job's and the snapshot record's source_kind
    label: str  # how messages name one source of this kind
    input_key: str  # the execution input's key that names one source of this kind
    allowed_parameter: str  # the template parameter that lists the allowed sources
    allowed_variable: str  # the environment variable the template sets from it
    identifier_max_length: int
    snapshot_resource: str  # ARN resource type of its snapshots
    snapshot_not_found_codes: frozenset[str]
    snapshot_exists_codes: frozenset[str]
    # Only Aurora clusters export their current data without a snapshot.
    exports_directly: bool = False
    not_allowed_error: type[WorkflowError]

    # -- ARNs -------------------------------------------------------------------------------
    def snapshot_arn(self, partition: str, region: str, account: str, snapshot_identifier: str) -> str:
        return f"arn:{partition}:rds:{region}:{account}:{self.snapshot_resource}:{snapshot_identifier}"

    def owns_snapshot_arn(self, arn: str) -> bool:
        try:
            return naming.parse_snapshot_arn(arn).resource_type == self.snapshot_resource
        except ValueError:
            return False

    def export_source_arn(self, partition: str, region: str, account: str, identifier: str) -> str:
        """The ARN StartExportTask exports when the source itself (not a snapshot) is exported."""
        raise NotImplementedError(f"a {self.label} cannot be exported without a snapshot")

    # -- snapshots --------------------------------------------------------------------------
    def describe_snapshot(self, snapshot_identifier: str) -> SnapshotDescription | None:
        """The snapshot, or None when RDS knows none of that name."""
        raise NotImplementedError

    def create_snapshot(self, source_identifier: str, snapshot_identifier: str, tags: list[dict[str, str]]) -> SnapshotDescription:
        """Take a manual snapshot; raises RDS's ClientError (the caller adopts an existing one)."""
        raise NotImplementedError

    def automated_snapshots(self, source_identifier: str) -> list[SnapshotDescription]:
        """Every automated snapshot of the source."""
        raise NotImplementedError

    def delete_snapshot(self, snapshot_identifier: str) -> bool:
        """Delete the snapshot; False when it was already gone."""
        raise NotImplementedError

    def newest_automated_snapshot(self, source_identifier: str) -> SnapshotDescription | None:
        available = [s for s in self.automated_snapshots(source_identifier) if s.status == "available" and s.created_at]
        return max(available, key=lambda s: s.created_at or dt.datetime.min) if available else None

    def snapshot_not_found(self, snapshot_identifier: str) -> ClientError:
        """The error RDS itself gives for a missing snapshot of this kind (named after its wire code)."""
        code, operation = self.not_found_error
        return ClientError(
            {"Error": {"Code": code, "Message": f"Snapshot {snapshot_identifier} does not exist (it may have been deleted)."}},
            operation,
        )

    not_found_error: tuple[str, str]  # (wire code, operation)

    # -- what can be exported ----------------------------------------------------------------
    def refuse_unexportable_source(self, source_identifier: str) -> None:
        """Raise SourceCannotExport when RDS could not export this source; before anything is created."""

    def refuse_unexportable_snapshot(self, snapshot: SnapshotDescription) -> None:
        """Raise SourceCannotExport when RDS could not export this snapshot."""

    # -- allowed sources ---------------------------------------------------------------------
    def allowed(self) -> frozenset[str] | None:
        """The sources of this kind the deployment may export (None: no restriction)."""
        from aurora_lake import settings

        return settings.allowed_identifiers(self.allowed_variable)

    def is_allowed(self, identifier: str | None, allowed: frozenset[str] | None) -> bool:
        if allowed is None:
            return True
        return identifier is not None and identifier.lower() in {name.lower() for name in allowed}

    # -- helpers for subclasses --------------------------------------------------------------
    def _ignore_not_found(self, call: Any, **kwargs: Any) -> Any | None:
        try:
            return call(**kwargs)
        except ClientError as error:
            if error_code(error) in self.snapshot_not_found_codes:
                return None
            raise
