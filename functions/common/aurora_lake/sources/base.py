"""What every kind of export source offers the steps: one interface, one object per kind.

RDS exports two kinds of database the same way (StartExportTask on a snapshot ARN), but
names every call, field and error of each kind differently: an Aurora DB cluster has
cluster snapshots (DescribeDBClusterSnapshots, ``DBClusterSnapshotArn``, ...), an RDS DB
instance has DB snapshots (DescribeDBSnapshots, ``DBSnapshotArn``, ...). A ``Source``
hides those differences; the steps (snapshots.py, exports.py) only ever ask it.

A Source is also bound to the account its databases live in (``in_account``): the lake's own
(``account`` None), whose allowed sources its parameters list, or a source account, whose RDS it
calls through the account's access role and whose sources opted in with a tag (opt_in.py). The
steps never branch on the account either.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from aurora_lake import naming
from aurora_lake.clients import client
from aurora_lake.errors import WorkflowError, error_code


# DescribeDB(Cluster)Snapshots' SnapshotType of AWS Backup recovery points (DescribeDBSnapshots reference).
AWS_BACKUP_SNAPSHOT_TYPE = "awsbackup"
# How RDS refuses a parameter value (common errors of every RDS operation).
INVALID_PARAMETER_CODES = frozenset({"InvalidParameterValue", "InvalidParameterCombination"})


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
    # The snapshot's own tags (TagList), as RDS reports them: the opt-in tag of a source account's
    # snapshot is read here, never inferred from its source.
    tags: tuple[tuple[str, str], ...] = ()

    def tag(self, key: str) -> str | None:
        return tags_of(self.tags).get(key)


@dataclass(frozen=True)
class RdsNames:
    """How RDS names the calls, parameters and fields of one kind's snapshots (botocore's model)."""

    describe: str  # client method, e.g. describe_db_cluster_snapshots
    create: str
    delete: str
    source_parameter: str  # e.g. DBClusterIdentifier
    snapshot_parameter: str  # e.g. DBClusterSnapshotIdentifier
    snapshot_list: str  # the Describe response's list, e.g. DBClusterSnapshots
    snapshot_record: str  # the Create response's record, e.g. DBClusterSnapshot
    snapshot_arn: str  # e.g. DBClusterSnapshotArn

    def description(self, record: dict[str, Any]) -> SnapshotDescription:
        return SnapshotDescription(
            arn=record[self.snapshot_arn],
            identifier=record[self.snapshot_parameter],
            source_identifier=record.get(self.source_parameter),
            engine=record.get("Engine"),
            engine_version=record.get("EngineVersion"),
            snapshot_type=record.get("SnapshotType"),
            status=str(record.get("Status", "")).lower(),
            percent_progress=int(record.get("PercentProgress") or 0),
            created_at=record.get("SnapshotCreateTime"),
            storage_type=record.get("StorageType"),
            tags=tag_pairs(record.get("TagList")),
        )


def tag_pairs(tag_list: Any) -> tuple[tuple[str, str], ...]:
    """RDS's TagList (``[{"Key": ..., "Value": ...}]``) as (key, value) pairs; anything else is no tag."""
    if not isinstance(tag_list, list):
        return ()
    return tuple(
        (tag["Key"], str(tag.get("Value") or ""))
        for tag in tag_list
        if isinstance(tag, dict) and isinstance(tag.get("Key"), str)
    )


def tags_of(pairs: Any) -> dict[str, str]:
    return dict(pairs if isinstance(pairs, tuple) else tag_pairs(pairs))


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
    # The source account this source lives in; None: the lake's own account.
    account: str | None = None
    # Whether sources of this kind are exported from source accounts (both kinds are).
    in_source_accounts: bool = True
    # DescribeDBClusters / DescribeDBInstances: the source's own record (its TagList), and the errors of a missing one.
    describe_source: str
    source_list: str
    source_not_found_codes: frozenset[str]

    # -- the account ------------------------------------------------------------------------
    def in_account(self, account: str | None) -> Source:
        """This kind of source in ``account`` (a source account), or in the lake's own (None)."""
        if account is not None and not naming.is_account_id(account):
            raise ValueError(f"{str(account)[:40]!r} is not a 12-digit account ID")
        if account == self.account:
            return self
        bound = copy.copy(self)
        bound.account = account
        return bound

    @property
    def where(self) -> str:
        """`` of account 111111111111`` for a source account's source, empty for the lake's own (for messages)."""
        return f" of account {self.account}" if self.account else ""

    def rds_client(self) -> Any:
        """RDS of the account the source lives in (a source account's through its access role)."""
        return client("rds", account=self.account)

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
    def snapshot_lookups(self, snapshot_identifier: str) -> tuple[dict[str, str], ...]:
        """The DescribeDB(Cluster)Snapshots parameters, beside the name, that find a snapshot, in the order tried.

        RDS needs ``SnapshotType`` only for an automated snapshot (the identifier's constraint in
        the RDS model); any other is found by its name alone, an AWS Backup recovery point too, as
        AWS's export sample finds one. A recovery point the name does not find is looked up once
        more with SnapshotType ``awsbackup``.
        """
        if snapshot_identifier.startswith(naming.AUTOMATED_SNAPSHOT_PREFIX):
            return ({"SnapshotType": "automated"},)
        if snapshot_identifier.startswith(naming.AWS_BACKUP_SNAPSHOT_PREFIX):
            return ({}, {"SnapshotType": AWS_BACKUP_SNAPSHOT_TYPE})
        return ({},)

    def describe_snapshot(self, snapshot_identifier: str) -> SnapshotDescription | None:
        """The snapshot, or None when RDS knows none of that name."""
        first, *others = self.snapshot_lookups(snapshot_identifier)
        found = self._describe(snapshot_identifier, first)
        for extra in others:
            if found is not None:
                break
            try:
                found = self._describe(snapshot_identifier, extra)
            except ClientError as error:
                # The model documents SnapshotType awsbackup for DB snapshots only: refused for a
                # cluster snapshot, the lookup by name has already said there is none.
                if error_code(error) not in INVALID_PARAMETER_CODES:
                    raise
        return found

    def _describe(self, snapshot_identifier: str, extra: dict[str, str]) -> SnapshotDescription | None:
        describe = getattr(self.rds_client(), self.rds.describe)
        found = self._ignore_not_found(describe, **{self.rds.snapshot_parameter: snapshot_identifier}, **extra)
        records = (found or {}).get(self.rds.snapshot_list, [])
        return self.rds.description(records[0]) if records else None

    def create_snapshot(self, source_identifier: str, snapshot_identifier: str, tags: list[dict[str, str]]) -> SnapshotDescription:
        """Take a manual snapshot; raises RDS's ClientError (the caller adopts an existing one)."""
        create = getattr(self.rds_client(), self.rds.create)
        created = create(**{self.rds.source_parameter: source_identifier, self.rds.snapshot_parameter: snapshot_identifier}, Tags=tags)
        return self.rds.description(created[self.rds.snapshot_record])

    def source_tags(self, source_identifier: str) -> dict[str, str] | None:
        """The tags of the cluster or DB instance itself (its TagList), or None when RDS knows none of that name."""
        describe = getattr(self.rds_client(), self.describe_source)
        try:
            found = describe(**{self.rds.source_parameter: source_identifier})
        except ClientError as error:
            if error_code(error) in self.source_not_found_codes:
                return None
            raise
        records = found.get(self.source_list) or []
        return tags_of(records[0].get("TagList")) if records else None

    def automated_snapshots(self, source_identifier: str) -> list[SnapshotDescription]:
        """Every automated snapshot of the source."""
        pages = self.rds_client().get_paginator(self.rds.describe).paginate(**{self.rds.source_parameter: source_identifier}, SnapshotType="automated")
        return [self.rds.description(record) for page in pages for record in page.get(self.rds.snapshot_list, [])]

    def delete_snapshot(self, snapshot_identifier: str) -> bool:
        """Delete the snapshot; False when it was already gone."""
        delete = getattr(self.rds_client(), self.rds.delete)
        return self._ignore_not_found(delete, **{self.rds.snapshot_parameter: snapshot_identifier}) is not None

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
    rds: RdsNames

    # -- what can be exported ----------------------------------------------------------------
    def refuse_unexportable_source(self, source_identifier: str) -> None:
        """Raise SourceCannotExport when RDS could not export this source; before anything is created."""

    def refuse_unexportable_snapshot(self, snapshot: SnapshotDescription) -> None:
        """Raise SourceCannotExport when RDS could not export this snapshot."""

    # -- allowed sources ---------------------------------------------------------------------
    def allowed(self) -> frozenset[str] | None:
        """The sources of this kind the deployment may export (None: no list restriction).

        A source account's sources are not listed anywhere: they opt in with a tag, which opt_in.py
        checks (and IAM enforces) instead.
        """
        from aurora_lake import settings

        if self.account is not None:
            return None
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
