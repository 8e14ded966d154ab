"""Which sources of a source account this lake may export: those whose owners opted in with a tag.

A cluster or DB instance of a source account opts in with the tag ``aurora-lake:export`` whose value
is the lake's stack name (naming.OPT_IN_TAG). Nothing lists them in the lake: the source account's
access role lets the lake snapshot, export and describe only what carries the tag (IAM, attribute-
based), and this module checks the same before the run creates anything, so a source that did not
opt in fails with an error naming the tag to set instead of an access denial half-way through (or,
for a start from an event, ends quietly).

What must carry the tag:

* a new snapshot, or the newest automated one, or a direct export: the cluster or DB instance;
* a given snapshot (a user's, an automated one, an AWS Backup recovery point): the snapshot itself,
  since IAM authorizes StartExportTask on the snapshot's own tags. Automated snapshots carry the
  source's tags only when the source copies them (CopyTagsToSnapshot), AWS Backup recovery points
  only when the backup plan copies tags: the error says so.

The value is compared exactly (case-sensitive, as IAM's StringEquals): another lake's value is not
this lake's. The lake's own account is never checked here: its sources are AllowedClusterIdentifiers'.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aurora_lake import naming, settings, sources
from aurora_lake.sources.base import SnapshotDescription, tags_of

# How much of a hostile tag value a message shows.
SHOWN_VALUE_CHARS = 64


def snapshot_tags(job: Mapping[str, Any]) -> list[dict[str, str]]:
    """The tags of every snapshot the lake takes: this lake's opt-in (so IAM lets it be exported) and
    taken-by (so IAM lets the lake delete it), and which execution took it."""
    tags = [
        {"Key": naming.EXECUTION_TAG, "Value": str(job["execution_name"])},
        {"Key": naming.PURPOSE_TAG, "Value": "export-to-data-lake"},
    ]
    # The template always names the stack; a source account's snapshot cannot be taken without it
    # (its access role requires both tags), the lake's own are tagged alike whenever it is known.
    lake = settings.lake_stack_name() if job.get("source_account") else settings.optional("AURORA_LAKE_STACK", "")
    if lake:
        tags[:0] = [{"Key": naming.OPT_IN_TAG, "Value": lake}, {"Key": naming.TAKEN_BY_TAG, "Value": lake}]
    return tags


def shown(value: object) -> str:
    """A value read from another account, quoted with control characters escaped and cut."""
    text = str(value)
    cut = text[:SHOWN_VALUE_CHARS]
    return json.dumps(cut, ensure_ascii=True) + ("..." if len(text) > SHOWN_VALUE_CHARS else "")


def _what_to_set(lake: str) -> str:
    return f"set the tag {naming.OPT_IN_TAG} = {lake} on it"


def tag_problem(tags: Mapping[str, str], lake: str) -> str | None:
    """Why these tags do not opt in to ``lake`` (None when they do)."""
    value = tags.get(naming.OPT_IN_TAG)
    if value is None:
        return f"it has no tag {naming.OPT_IN_TAG}"
    if value != lake:
        return f"its tag {naming.OPT_IN_TAG} is {shown(value)}, not {shown(lake)} (this lake's stack name, compared exactly)"
    return None


def source_refusal(source: sources.Source, identifier: str, lake: str) -> str | None:
    """Why the cluster or DB instance ``identifier`` of a source account is not this lake's to export."""
    tags = source.source_tags(identifier)
    if tags is None:
        return f"{source.label} {identifier}{source.where} does not exist in its account and Region (or the lake may not describe it)"
    problem = tag_problem(tags, lake)
    if problem is None:
        return None
    return f"{source.label} {identifier}{source.where} has not opted in to lake {lake}: {problem}. To export it, {_what_to_set(lake)} (docs/organization.md)"


def snapshot_refusal(source: sources.Source, snapshot: SnapshotDescription, lake: str) -> str | None:
    """Why a given snapshot of a source account is not this lake's to export (its own tag decides)."""
    problem = tag_problem(tags_of(snapshot.tags), lake)
    if problem is None:
        return None
    of = f" of {source.label} {snapshot.source_identifier}" if snapshot.source_identifier else ""
    return (
        f"snapshot {snapshot.identifier}{of}{source.where} has not opted in to lake {lake}: {problem}. "
        f"A snapshot is exported only when it carries {naming.OPT_IN_TAG} = {lake} itself: turn on CopyTagsToSnapshot on the "
        f"{source.label} for its automated snapshots, copy tags to backups in the AWS Backup plan for its recovery points, "
        f"or tag the snapshot; or export the {source.label} itself with a new snapshot once it carries the tag"
    )


def taken_by_this_lake(snapshot: SnapshotDescription, lake: str) -> bool:
    """Whether the lake took this snapshot itself (its taken-by tag, which only the lake's own create gives)."""
    return snapshot.tag(naming.TAKEN_BY_TAG) == lake


def job_refusal(job: Mapping[str, Any]) -> str | None:
    """Why a validated job of a source account may not run (None: it may), read through the access role.

    For a start from an event, a snapshot the lake took itself is a reason too: its export is
    already under way. A given snapshot RDS does not know is left to CheckSnapshot, which fails
    naming it.
    """
    account = job.get("source_account")
    if account is None:
        return None
    lake = settings.lake_stack_name()
    if job.get("snapshot_mode") == "existing":
        source = sources.of_snapshot_arn(str(job["snapshot_arn"]), account)
        snapshot = source.describe_snapshot(str(job["snapshot_identifier"]))
        if snapshot is None:
            return None
        if job.get("trigger") and taken_by_this_lake(snapshot, lake):
            return f"snapshot {snapshot.identifier}{source.where} was taken by this lake: its export is already under way"
        return snapshot_refusal(source, snapshot, lake)
    return source_refusal(sources.of_job(job), str(job["source_identifier"]), lake)


__all__ = ["job_refusal", "shown", "snapshot_refusal", "snapshot_tags", "source_refusal", "tag_problem", "taken_by_this_lake"]
