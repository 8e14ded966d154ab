"""The kinds of database an export reads: Aurora DB clusters and RDS DB instances.

Each kind is one ``Source`` object (sources/cluster.py, sources/instance.py). The job and
the snapshot record name the kind (``source_kind``: ``cluster`` | ``instance``) and the
source (``source_identifier``); a step asks ``of_job`` or ``of_snapshot_arn`` for the object
and never branches on the kind itself.
"""

from __future__ import annotations

from typing import Any

from aurora_lake import naming
from aurora_lake.sources.base import SnapshotDescription, Source
from aurora_lake.sources.cluster import CLUSTER
from aurora_lake.sources.instance import INSTANCE

KINDS: dict[str, Source] = {CLUSTER.kind: CLUSTER, INSTANCE.kind: INSTANCE}


def of_kind(kind: object) -> Source:
    source = KINDS.get(kind) if isinstance(kind, str) else None
    if source is None:
        raise ValueError(f"unknown source kind {kind!r}; expected one of {', '.join(KINDS)}")
    return source


def of_job(job: dict[str, Any]) -> Source:
    """The kind of source a job exports (jobs from before DB instances were supported: clusters), in the job's account."""
    return of_kind(job.get("source_kind") or CLUSTER.kind).in_account(job.get("source_account"))


def of_snapshot_arn(arn: str, account: str | None = None) -> Source:
    """The kind whose snapshots have ARNs like ``arn`` (ValueError when none has), in ``account`` (None: the lake's)."""
    resource_type = naming.parse_snapshot_arn(arn).resource_type
    return next(source for source in KINDS.values() if source.snapshot_resource == resource_type).in_account(account)


def of_export_source_arn(arn: str, account: str | None = None) -> tuple[Source, str, bool] | None:
    """What an export task reads: (kind, name, True when the name is a snapshot's), or None.

    ``arn:...:cluster:NAME`` is a cluster exported directly; ``...:cluster-snapshot:NAME`` and
    ``...:snapshot:NAME`` are snapshots of a cluster and of a DB instance. ``account``: where the
    export task runs (None: the lake's own account).
    """
    pieces = arn.split(":", 6) if isinstance(arn, str) else []
    if len(pieces) != 7 or pieces[2] != "rds":
        return None
    resource_type, name = pieces[5], pieces[6]
    if resource_type == "cluster":
        return CLUSTER.in_account(account), name, False
    for source in KINDS.values():
        if source.snapshot_resource == resource_type:
            return source.in_account(account), name, True
    return None


__all__ = ["CLUSTER", "INSTANCE", "KINDS", "SnapshotDescription", "Source", "of_export_source_arn", "of_job", "of_kind", "of_snapshot_arn"]
