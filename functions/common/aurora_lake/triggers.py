"""Starts from the stack's own event rules that this deployment must not act on.

The snapshot-event and AWS Backup rules follow every cluster and DB instance of the account and
Region (an event pattern cannot hold up to 20 of them, nor tell an AWS Backup recovery point's
source).
A start for a snapshot this deployment does not export is therefore expected, not a failure:
it is logged and counted (metric ``TriggersIgnored``) and the execution ends quietly, without a
notification. The same snapshot named in a start by hand still fails with ClusterNotAllowed (DBInstanceNotAllowed).

Events of source accounts reach the lake's bus through their forwarding rules, and the lake's rules
add the account the event came from (``event_account``): the input schema refuses, loudly, an event
of one account about another account's snapshot. A source account's snapshot that did not opt in
(opt_in.py: the snapshot's own tag), or that the lake took itself, ends quietly like the lake's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aurora_lake import naming
from aurora_lake.observability import MetricUnit, logger, metrics
from aurora_lake.sources import CLUSTER, Source

IGNORED_METRIC = "TriggersIgnored"


def reason_to_ignore(job: Mapping[str, Any], allowed: Iterable[str] | None, source: Source = CLUSTER) -> str | None:
    """Why a triggered start is not for this deployment, from the snapshot's name alone (or None).

    ``allowed`` lists the sources of ``source``'s kind this deployment may export.
    """
    if not job.get("trigger"):
        return None
    if source.account is not None:
        return None  # a source account's snapshots are judged by their tags (opt_in.job_refusal)
    if allowed is None:
        return None
    clusters = sorted(allowed)
    name = job.get("snapshot_identifier") or ""
    if not name or name.startswith(naming.AWS_BACKUP_SNAPSHOT_PREFIX):
        return None  # a recovery point's cluster is read from RDS (CheckSnapshot)
    if naming.is_own_snapshot(name, clusters):
        return f"snapshot {name} was taken by this workflow: its export is already under way"
    if not naming.named_after_one_of(name, clusters):
        return f"snapshot {name} is not of a {source.label} this deployment may export ({source.allowed_parameter})"
    return None


def ignored(job: Mapping[str, Any], reason: str) -> dict[str, Any]:
    """Log and count the start, and return what the state machine ends on."""
    logger.info("trigger ignored", extra={"trigger": job.get("trigger"), "reason": reason})
    metrics.add_metric(name=IGNORED_METRIC, unit=MetricUnit.Count, value=1)
    return {"ignored": reason}
