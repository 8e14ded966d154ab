"""Malformed execution inputs through the real state machine: refused before anything exists.

Each case ends FAILED with Error ``InvalidInput``, a Cause that lists every
problem as ``field: reason`` (the fields are checked here), exactly one failure
notification, and not a single RDS call. All cases share one emulated account
and run one after another: an execution in a warm account costs a fraction of
a new account.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest

from emulated_account import EmulatedAccount

REGION, ACCOUNT = "us-east-1", "123456789012"
ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster-snapshot:"
GOOD_ARN = ARN + "demo-aurora-cluster-manual-2026-11-01"
CLUSTER = "demo-aurora-cluster"

# (case id, execution input, fields the cause must name)
CASES: list[tuple[str, Any, set[str]]] = [
    # Wrong JSON type at the top.
    ("top-list", [CLUSTER], {"input"}),
    ("top-string", CLUSTER, {"input"}),
    ("top-number", 42, {"input"}),
    ("top-null", None, {"input"}),
    ("top-boolean", True, {"input"}),
    # Sources: neither, both, and the options that need a particular one.
    ("no-source", {}, {"input"}),
    ("only-options", {"s3_prefix": "x/"}, {"input"}),
    ("both-sources", {"cluster_identifier": CLUSTER, "snapshot_arn": GOOD_ARN}, {"input"}),
    ("latest-with-arn", {"snapshot_arn": GOOD_ARN, "use_latest_automated_snapshot": True}, {"use_latest_automated_snapshot"}),
    ("cluster-and-instance", {"cluster_identifier": CLUSTER, "db_instance_identifier": "demo-mariadb-db"}, {"input"}),
    ("instance-exported-directly", {"db_instance_identifier": "demo-mariadb-db", "export_cluster_directly": True}, {"export_cluster_directly"}),
    ("instance-underscore", {"db_instance_identifier": "demo_mariadb"}, {"db_instance_identifier"}),
    # Unknown keys.
    ("typo-key", {"cluster_identifier": CLUSTER, "export_onyl": ["mydb"]}, {"export_onyl"}),
    ("extra-key", {"cluster_identifier": CLUSTER, "force": True}, {"force"}),
    # cluster_identifier: type and every identifier rule.
    ("cluster-number", {"cluster_identifier": 123}, {"cluster_identifier"}),
    ("cluster-null", {"cluster_identifier": None}, {"cluster_identifier"}),
    ("cluster-empty", {"cluster_identifier": ""}, {"cluster_identifier"}),
    ("cluster-digit-first", {"cluster_identifier": "1demo"}, {"cluster_identifier"}),
    ("cluster-double-hyphen", {"cluster_identifier": "demo--cluster"}, {"cluster_identifier"}),
    ("cluster-trailing-hyphen", {"cluster_identifier": "demo-cluster-"}, {"cluster_identifier"}),
    ("cluster-underscore", {"cluster_identifier": "demo_cluster"}, {"cluster_identifier"}),
    ("cluster-too-long", {"cluster_identifier": "d" * 64}, {"cluster_identifier"}),
    # snapshot_arn: type, form, service, Region, account, resource type, name.
    ("arn-number", {"snapshot_arn": 7}, {"snapshot_arn"}),
    ("arn-not-an-arn", {"snapshot_arn": "demo-aurora-cluster-manual-2026-11-01"}, {"snapshot_arn"}),
    ("arn-service", {"snapshot_arn": f"arn:aws:s3:{REGION}:{ACCOUNT}:cluster-snapshot:{CLUSTER}-x"}, {"snapshot_arn"}),
    ("arn-region", {"snapshot_arn": f"arn:aws:rds:eu-west-1:{ACCOUNT}:cluster-snapshot:{CLUSTER}-x"}, {"snapshot_arn"}),
    ("arn-account", {"snapshot_arn": f"arn:aws:rds:{REGION}:999999999999:cluster-snapshot:{CLUSTER}-x"}, {"snapshot_arn"}),
    ("arn-db-instance", {"snapshot_arn": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{CLUSTER}"}, {"snapshot_arn"}),
    ("arn-db-snapshot-bad-name", {"snapshot_arn": f"arn:aws:rds:{REGION}:{ACCOUNT}:snapshot:rds:x--y"}, {"snapshot_arn"}),
    ("arn-bad-name", {"snapshot_arn": ARN + "demo--aurora"}, {"snapshot_arn"}),
    # Flags of the wrong type.
    ("latest-string", {"cluster_identifier": CLUSTER, "use_latest_automated_snapshot": "yes"}, {"use_latest_automated_snapshot"}),
    ("delete-string", {"cluster_identifier": CLUSTER, "delete_snapshot_after_export": "false"}, {"delete_snapshot_after_export"}),
    ("delete-given-snapshot", {"snapshot_arn": GOOD_ARN, "delete_snapshot_after_export": True}, {"delete_snapshot_after_export"}),
    # export_only: shape, entry types, characters, size.
    ("export-only-string", {"cluster_identifier": CLUSTER, "export_only": "mydb"}, {"export_only"}),
    ("export-only-object", {"cluster_identifier": CLUSTER, "export_only": {"mydb": True}}, {"export_only"}),
    ("export-only-number-entry", {"cluster_identifier": CLUSTER, "export_only": ["mydb", 5]}, {"export_only[1]"}),
    ("export-only-too-deep", {"cluster_identifier": CLUSTER, "export_only": ["mydb.public.users.id"]}, {"export_only[0]"}),
    ("export-only-space", {"cluster_identifier": CLUSTER, "export_only": ["my db"]}, {"export_only[0]"}),
    ("export-only-empty-part", {"cluster_identifier": CLUSTER, "export_only": ["mydb..users"]}, {"export_only[0]"}),
    ("export-only-over-200kb", {"cluster_identifier": CLUSTER, "export_only": [f"mydb.public.table_{n:06d}" for n in range(9000)]}, {"export_only"}),
    # s3_prefix.
    ("prefix-colon", {"cluster_identifier": CLUSTER, "s3_prefix": "exports:2026/"}, {"s3_prefix"}),
    ("prefix-number", {"cluster_identifier": CLUSTER, "s3_prefix": 2026}, {"s3_prefix"}),
    ("prefix-empty", {"cluster_identifier": CLUSTER, "s3_prefix": ""}, {"s3_prefix"}),
    # Several problems at once: every one is listed.
    (
        "many-problems",
        {"cluster_identifier": "Bad_Id-", "export_only": "mydb", "s3_prefix": "a:b", "delete_snapshot_after_export": 1, "exprot": 1},
        {"cluster_identifier", "export_only", "s3_prefix", "delete_snapshot_after_export", "exprot"},
    ),
]


@pytest.fixture(scope="module")
def account() -> Iterator[EmulatedAccount]:
    with EmulatedAccount(handler_output=io.StringIO()) as emulated:
        yield emulated


def test_there_are_at_least_thirty_distinct_cases() -> None:
    assert len(CASES) >= 30
    assert len({case_id for case_id, _, _ in CASES}) == len(CASES)
    [huge] = [execution_input for case_id, execution_input, _ in CASES if case_id == "export-only-over-200kb"]
    assert len(json.dumps(huge["export_only"]).encode()) > 200_000


@pytest.mark.slow
def test_every_malformed_input_is_refused_with_every_problem_and_nothing_created(account: EmulatedAccount) -> None:
    failures = []
    for case_id, execution_input, fields in CASES:
        calls_before, notes_before = len(account.calls.calls), len(account.notifications())
        result = account.run(execution_input)
        cause = result.cause or ""
        problem_fields = {line.split(": ", 1)[0].strip().lstrip("- ") for line in cause.splitlines() if ": " in line}
        new_calls = [f"{c.service}:{c.operation}" for c in account.calls.calls[calls_before:] if c.service != "lambda"]
        new_notifications = account.notifications()[notes_before:]
        checks = {
            "status": (result.status, result.error) == ("FAILED", "InvalidInput"),
            "fields": fields <= problem_fields,
            "one notification": len(new_notifications) == 1 and "InvalidInput" in new_notifications[0]["message"],
            # Only the notification is sent: no RDS (or any other) call creates or reads anything.
            "no AWS call": new_calls == ["sns:Publish"],
        }
        if not all(checks.values()):
            failures.append((case_id, [name for name, ok in checks.items() if not ok], result.error, cause[:500], new_calls))
    assert failures == []
    assert account.rds.snapshots_created == [] and account.export_tasks() == []
