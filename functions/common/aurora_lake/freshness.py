"""Freshness per source: when each source last exported, and which ones are stale.

A run that counts as fresh (notifications.counts_as_fresh: it catalogued at least one table) leaves a marker, ``state/last-success/<account>/<kind>/
<identifier>.json`` (``naming.last_success_key``), where it counts its success (Notify). The
scheduled fleet's summary reads the markers of every source it was asked to export and calls a
source stale when its last success is older than the schedule allows (FreshnessAlarmHours), or
when it never exported: one metric (``StaleSources``), one alarm, and the names in
``reports/freshness/latest.json``.

A marker is written by the lake's own functions only, with values they validated; a reader treats
an unreadable marker as no success at all (the source is reported stale, never fresh).
"""

from __future__ import annotations

import contextvars
import json
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from aurora_lake import naming
from aurora_lake.errors import error_code

STALE_METRIC = "StaleSources"
MARKER_VERSION = 1
# GetObject calls at once when reading many markers (S3 takes thousands per second per prefix).
READ_WORKERS = 16
_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})


@dataclass(frozen=True)
class SourceRef:
    """A source a fleet was asked to export: its account, kind and identifier."""

    account: str
    kind: str
    identifier: str

    @property
    def key(self) -> str:
        return naming.last_success_key(self.account, self.kind, self.identifier)


def source_of(state: Mapping[str, Any]) -> SourceRef | None:
    """The source a run exported (its account, kind, identifier), when the job names one validly."""
    job = state.get("job") if isinstance(state.get("job"), dict) else {}
    snapshot = state.get("snapshot") if isinstance(state.get("snapshot"), dict) else {}
    kind = snapshot.get("source_kind") or job.get("source_kind") or "cluster"
    identifier = job.get("source_identifier") or snapshot.get("source_identifier") or snapshot.get("source_cluster_identifier")
    account = job.get("account")
    if not isinstance(identifier, str) or not naming.is_account_id(account):
        return None
    try:
        source = SourceRef(str(account), str(kind), identifier.lower())
        source.key  # noqa: B018 - validates the parts
    except ValueError:
        return None
    return source


def marker(state: Mapping[str, Any], now: float) -> dict[str, Any]:
    """What a successful run records about itself (small: read for every source of a fleet)."""
    job = state.get("job") if isinstance(state.get("job"), dict) else {}
    export = state.get("export") if isinstance(state.get("export"), dict) else {}
    athena = state.get("athena") if isinstance(state.get("athena"), dict) else {}
    return {
        "version": MARKER_VERSION,
        "succeeded_at": now,
        "execution_arn": job.get("execution_arn"),
        "export_task": export.get("export_task_identifier"),
        "tables_created": athena.get("tables_created"),
    }


def record_success(s3: Any, bucket: str, source: SourceRef, document: Mapping[str, Any]) -> str:
    """Write the source's marker; returns its key. Errors are S3's own (the step fails loudly)."""
    key = source.key
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps({**document, "account": source.account, "kind": source.kind,
                                                            "identifier": source.identifier}).encode(), ContentType="application/json")
    return key


def last_successes(s3: Any, bucket: str, sources: Iterable[SourceRef]) -> dict[SourceRef, float | None]:
    """Each source's last success (epoch seconds), None when it has no readable marker.

    The markers of each account are listed first and only those that exist are read: a GetObject of
    a missing key is refused as AccessDenied, not NoSuchKey, to a caller that may not list the
    bucket, and the summary's role lists only ``state/last-success/``.
    """
    unique = list(dict.fromkeys(sources))
    existing: set[str] = set()
    for account in sorted({source.account for source in unique}):
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{naming.LAST_SUCCESS_FOLDER}{account}/")
        existing.update(item["Key"] for page in pages for item in page.get("Contents", []))

    def read(source: SourceRef) -> float | None:
        if source.key not in existing:
            return None
        try:
            body = s3.get_object(Bucket=bucket, Key=source.key)["Body"].read()
        except ClientError as error:
            if error_code(error) in _NOT_FOUND:  # deleted since it was listed
                return None
            raise
        try:
            document = json.loads(body)
        except ValueError:
            return None
        at = document.get("succeeded_at") if isinstance(document, dict) else None
        return float(at) if isinstance(at, (int, float)) and not isinstance(at, bool) else None

    with ThreadPoolExecutor(max_workers=READ_WORKERS) as pool:
        # Each read in a copy of this context: the logger's keys (and whatever else the caller set) go along.
        futures = [pool.submit(contextvars.copy_context().run, read, source) for source in unique]
        return {source: future.result() for source, future in zip(unique, futures)}


def stale(
    last: Mapping[SourceRef, float | None], now: float, hours: float, hours_of: Callable[[SourceRef], float | None] | None = None
) -> list[dict[str, Any]]:
    """The sources whose last success is older than ``hours`` (or that never exported), oldest first.

    ``hours_of``: a source's own limit (its schedule's: inventory.stale_after_hours), None for a
    source that is never stale (manual).
    """
    def limit_of(source: SourceRef) -> float | None:
        return hours if hours_of is None else hours_of(source)

    found = [
        {"account": source.account, "kind": source.kind, "identifier": source.identifier, "last_success": at,
         "hours_since": None if at is None else round((now - at) / 3600, 1)}
        for source, at in last.items()
        if (limit := limit_of(source)) is not None and (at is None or at < now - limit * 3600)
    ]
    return sorted(found, key=lambda entry: (entry["last_success"] is not None, entry["last_success"] or 0, entry["account"], entry["identifier"]))


def report(stale_sources: list[dict[str, Any]], checked: int, hours: float, now: float, fleet_execution: str | None) -> dict[str, Any]:
    """``reports/freshness/latest.json``: every stale source by name, and what was checked."""
    return {
        "version": MARKER_VERSION,
        "checked_at": now,
        "fleet_execution": fleet_execution,
        "freshness_hours": hours,
        "sources_checked": checked,
        "stale_count": len(stale_sources),
        "stale": stale_sources,
    }
