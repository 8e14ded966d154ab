"""Identifier rules, deterministic names and ARN parsing."""

from __future__ import annotations

import random
import re
import string
import sys
from pathlib import Path

import pytest

_COMMON = str(Path(__file__).resolve().parents[2] / "functions" / "common")
if _COMMON not in sys.path:
    sys.path.insert(0, _COMMON)

from aurora_lake.naming import (  # noqa: E402
    cluster_export_task_identifier,
    CLUSTER_IDENTIFIER_MAX_LENGTH,
    CLUSTER_SNAPSHOT_IDENTIFIER_MAX_LENGTH,
    EXPORT_TASK_IDENTIFIER_MAX_LENGTH,
    ClusterSnapshotArn,
    StateMachineArn,
    cluster_arn,
    cluster_snapshot_arn,
    export_task_identifier,
    identifier_problems,
    is_valid_identifier,
    parse_cluster_snapshot_arn,
    parse_state_machine_arn,
    sanitize_identifier,
    snapshot_identifier,
    split_arn,
)

ACCOUNT = "123456789012"
SNAPSHOT_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:my-snapshot"
AUTOMATED_ARN = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:rds:my-cluster-2026-11-01-03-10"


def assert_valid(name: str, max_length: int) -> None:
    """Every rule checked independently of identifier_problems, so a bug there cannot hide one here."""
    assert 1 <= len(name) <= max_length, name
    assert name[0] in string.ascii_letters, name
    assert set(name) <= set(string.ascii_letters + string.digits + "-"), name
    assert not name.endswith("-"), name
    assert "--" not in name, name
    assert name == name.lower(), name
    assert identifier_problems(name, max_length) == [], name


def awkward_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + "-" * 10 + "_:. /$é漢\t"
    texts = ["", "-", "---", "1", "9-9", ":", "rds:", "é", "漢字", "a" * 300, "-a-", "a--b", "A-" * 100]
    for _ in range(count):
        texts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300))))
    return texts


# --- identifier rules -----------------------------------------------------------

RULE_CASES = [
    ("empty", "", 63, "must not be empty"),
    ("leading digit", "1cluster", 63, "must begin with a letter"),
    ("leading hyphen", "-cluster", 63, "must begin with a letter"),
    ("trailing hyphen", "cluster-", 63, "must not end with a hyphen"),
    ("double hyphen", "my--cluster", 63, "two consecutive hyphens"),
    ("underscore", "my_cluster", 63, "found '_'"),
    ("space", "my cluster", 63, "found space"),
    ("dot", "my.cluster", 63, "found '.'"),
    ("colon", "rds:cluster", 63, "found ':'"),
    ("non-ASCII letter", "clusté", 63, "found 'é'"),
    ("too long", "a" * 64, 63, "at most 63 characters (got 64)"),
    ("too long snapshot", "a" * 256, 255, "at most 255 characters (got 256)"),
]


@pytest.mark.parametrize(("name", "max_length", "fragment"), [c[1:] for c in RULE_CASES], ids=[c[0] for c in RULE_CASES])
def test_each_identifier_rule_is_reported(name: str, max_length: int, fragment: str) -> None:
    problems = identifier_problems(name, max_length)
    assert any(fragment in problem for problem in problems), problems
    assert not is_valid_identifier(name, max_length)


def test_every_broken_rule_is_reported_at_once() -> None:
    problems = identifier_problems("1a_b--", 4)
    assert len(problems) == 5, problems


@pytest.mark.parametrize("name", ["a", "A", "my-cluster-1", "Cluster2", "a" * 63, "a-b-c-d"])
def test_valid_identifiers_have_no_problems(name: str) -> None:
    assert identifier_problems(name, CLUSTER_IDENTIFIER_MAX_LENGTH) == []


def test_limits_are_those_of_the_rds_api() -> None:
    assert CLUSTER_IDENTIFIER_MAX_LENGTH == 63
    assert CLUSTER_SNAPSHOT_IDENTIFIER_MAX_LENGTH == 255
    assert EXPORT_TASK_IDENTIFIER_MAX_LENGTH == 60


# --- sanitize_identifier --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My_Cluster", "my-cluster"),
        ("rds:my-cluster-2026", "rds-my-cluster-2026"),
        ("123abc", "x123abc"),
        ("--a--b--", "a-b"),
        ("", "x"),
        (":::", "x"),
        ("café", "cafe"),
        ("a  b", "a-b"),
    ],
)
def test_sanitize_examples(text: str, expected: str) -> None:
    assert sanitize_identifier(text, 63) == expected


def test_sanitize_cut_never_leaves_a_trailing_hyphen() -> None:
    assert sanitize_identifier("abcd-efgh", 5) == "abcd"


def test_sanitize_rejects_impossible_length() -> None:
    with pytest.raises(ValueError):
        sanitize_identifier("abc", 0)


def test_sanitize_always_gives_a_valid_deterministic_identifier() -> None:
    checked = 0
    for text in awkward_texts(1500, seed=7):
        for max_length in (1, 2, 5, 47, 60, 63, 255):
            name = sanitize_identifier(text, max_length)
            assert_valid(name, max_length)
            assert sanitize_identifier(text, max_length) == name
            checked += 1
    assert checked > 10_000


# --- snapshot_identifier --------------------------------------------------------


def test_snapshot_identifier_is_readable_and_deterministic() -> None:
    name = snapshot_identifier("demo-aurora-cluster", "exec-1")
    assert name.startswith("demo-aurora-cluster-lake-")
    assert name == snapshot_identifier("demo-aurora-cluster", "exec-1")
    assert_valid(name, 63)


def test_snapshot_identifier_ignores_cluster_case_like_rds() -> None:
    assert snapshot_identifier("Demo-Aurora-Cluster", "exec-1") == snapshot_identifier("demo-aurora-cluster", "exec-1")


def test_snapshot_identifier_differs_per_execution_and_per_cluster() -> None:
    names = {snapshot_identifier("demo-aurora-cluster", f"execution-{i}") for i in range(3000)}
    assert len(names) == 3000
    assert snapshot_identifier("cluster-a", "exec") != snapshot_identifier("cluster-b", "exec")


def test_snapshot_identifier_is_valid_for_awkward_clusters_and_executions() -> None:
    rng = random.Random(11)
    clusters = ["a", "a" * 63, "a-" * 31 + "a", "x-y-z", "Upper-Case"]
    clusters += ["c" + "".join(rng.choice("abc-1") for _ in range(rng.randint(0, 62))) for _ in range(300)]
    executions = awkward_texts(30, seed=3)
    for cluster in clusters:
        for execution in executions:
            name = snapshot_identifier(cluster, execution)
            assert_valid(name, 255)
            if is_valid_identifier(cluster, 63):
                # The deployment's IAM policy scopes snapshot writes to <cluster>-lake-*.
                assert name.startswith(f"{cluster.lower()}-lake-"), name


def test_snapshot_identifier_survives_an_invalid_cluster_name() -> None:
    assert_valid(snapshot_identifier("1bad__cluster--", "exec"), 255)


# --- export_task_identifier -----------------------------------------------------


def test_export_task_identifier_is_readable_and_deterministic() -> None:
    name = export_task_identifier(SNAPSHOT_ARN, ["mydb.users"], "exports/")
    assert name.startswith("my-snapshot-")
    assert name == export_task_identifier(SNAPSHOT_ARN, ["mydb.users"], "exports/")
    assert_valid(name, 60)


def test_automated_snapshot_colon_does_not_leak() -> None:
    name = export_task_identifier(AUTOMATED_ARN, None, "exports/")
    assert ":" not in name
    assert name.startswith("rds-my-cluster-2026-11-01-03-10-")
    assert_valid(name, 60)


def test_same_export_maps_to_same_name() -> None:
    base = export_task_identifier(SNAPSHOT_ARN, ["a.b", "c.d"], "exports/")
    assert export_task_identifier(SNAPSHOT_ARN, ["c.d", "a.b"], "exports/") == base
    assert export_task_identifier(SNAPSHOT_ARN, ("a.b", "c.d"), "exports") == base
    upper = SNAPSHOT_ARN.replace("my-snapshot", "My-Snapshot")
    assert export_task_identifier(upper, ["a.b", "c.d"], "exports/") == base


def test_different_exports_get_different_names() -> None:
    other_snapshot = SNAPSHOT_ARN.replace("my-snapshot", "my-snapshot-2")
    other_region = SNAPSHOT_ARN.replace("us-east-1", "us-west-2")
    names = {
        export_task_identifier(SNAPSHOT_ARN, None, "exports/"),
        export_task_identifier(SNAPSHOT_ARN, ["mydb"], "exports/"),
        export_task_identifier(SNAPSHOT_ARN, ["mydb.users"], "exports/"),
        export_task_identifier(SNAPSHOT_ARN, None, "other/"),
        export_task_identifier(other_snapshot, None, "exports/"),
        export_task_identifier(other_region, None, "exports/"),
    }
    assert len(names) == 6


def test_export_names_are_unique_and_valid_for_many_snapshots() -> None:
    rng = random.Random(5)
    seen: set[str] = set()
    count = 0
    long_names = ["s" + "-a" * 127, "rds:" + "a" * 251, "a" * 255, "rds:x-" + "9" * 240]
    generated = [
        re.sub("-+", "-", "s" + "".join(rng.choice("ab1-") for _ in range(rng.randint(0, 200)))).rstrip("-") for _ in range(400)
    ]
    for name in long_names + generated:
        arn = cluster_snapshot_arn("aws", "us-east-1", ACCOUNT, name)
        for export_only in (None, ["db"], ["db.t1", "db.t2"]):
            task = export_task_identifier(arn, export_only, "exports/")
            assert_valid(task, EXPORT_TASK_IDENTIFIER_MAX_LENGTH)
            seen.add(task)
            count += 1
    assert len(seen) == len(set(long_names + generated)) * 3
    assert count >= 1200


def test_export_task_identifier_refuses_bad_arguments() -> None:
    with pytest.raises(TypeError):
        export_task_identifier(SNAPSHOT_ARN, "mydb.users", "exports/")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        export_task_identifier(f"arn:aws:rds:us-east-1:{ACCOUNT}:db:x", None, "exports/")


def test_db_snapshot_exports_are_named_apart_from_cluster_snapshot_exports_of_the_same_name() -> None:
    cluster_snapshot = export_task_identifier(f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:orders-1", None, "exports/")
    db_snapshot = export_task_identifier(f"arn:aws:rds:us-east-1:{ACCOUNT}:snapshot:orders-1", None, "exports/")
    assert cluster_snapshot != db_snapshot
    assert db_snapshot.startswith("orders-1-") and is_valid_identifier(db_snapshot, 60)
    # The cluster snapshot's name is the one earlier versions gave it: a re-run still adopts its task.
    assert cluster_snapshot == export_task_identifier(f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:Orders-1", None, "exports")


def test_cluster_export_names_follow_the_execution_not_only_the_cluster() -> None:
    cluster = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:My-Cluster"
    first = cluster_export_task_identifier(cluster, "run-1", None, "exports/")
    assert first.startswith("my-cluster-data-") and len(first) <= 60 and is_valid_identifier(first, 60)
    # A retry of the same execution adopts its task; another execution exports the data of its own time.
    assert cluster_export_task_identifier(cluster.lower(), "run-1", None, "exports") == first
    assert cluster_export_task_identifier(cluster, "run-2", None, "exports/") != first
    assert cluster_export_task_identifier(cluster, "run-1", ["mydb"], "exports/") != first
    long_cluster = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster:" + "a" * 63
    assert len(cluster_export_task_identifier(long_cluster, "run-1", None, "x/")) <= 60
    with pytest.raises(ValueError):
        cluster_export_task_identifier(SNAPSHOT_ARN, "run-1", None, "exports/")


def test_aws_backup_recovery_point_arn() -> None:
    arn = f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:awsbackup:job-be59cf2a-2343-4402-bd8b-226993d23453"
    parsed = parse_cluster_snapshot_arn(arn)
    assert parsed.is_aws_backup and not parsed.is_automated
    name = export_task_identifier(arn, None, "exports/")
    assert ":" not in name and is_valid_identifier(name, 60)


# --- ARNs -------------------------------------------------------------------------


def test_parse_manual_and_automated_snapshot_arns() -> None:
    manual = parse_cluster_snapshot_arn(SNAPSHOT_ARN)
    assert manual == ClusterSnapshotArn("aws", "us-east-1", ACCOUNT, "my-snapshot")
    assert not manual.is_automated
    assert manual.arn == SNAPSHOT_ARN
    automated = parse_cluster_snapshot_arn(AUTOMATED_ARN)
    assert automated.snapshot_identifier == "rds:my-cluster-2026-11-01-03-10"
    assert automated.is_automated
    assert automated.arn == AUTOMATED_ARN


@pytest.mark.parametrize(
    ("partition", "region"), [("aws", "eu-central-1"), ("aws-cn", "cn-north-1"), ("aws-us-gov", "us-gov-west-1")]
)
def test_snapshot_arns_of_every_partition_round_trip(partition: str, region: str) -> None:
    arn = cluster_snapshot_arn(partition, region, ACCOUNT, "snap")
    assert arn == f"arn:{partition}:rds:{region}:{ACCOUNT}:cluster-snapshot:snap"
    assert parse_cluster_snapshot_arn(arn) == ClusterSnapshotArn(partition, region, ACCOUNT, "snap")


@pytest.mark.parametrize(
    ("arn", "fragment"),
    [
        ("my-snapshot", "not an ARN"),
        ("arn:aws:rds:us-east-1", "not an ARN"),
        (f"arn:aws-xx:rds:us-east-1:{ACCOUNT}:cluster-snapshot:s", "unknown partition"),
        (f"arn:aws:ec2:us-east-1:{ACCOUNT}:cluster-snapshot:s", "service is 'ec2'"),
        (f"arn:aws:rds:useast1:{ACCOUNT}:cluster-snapshot:s", "not a Region"),
        ("arn:aws:rds:us-east-1:1234:cluster-snapshot:s", "12-digit account"),
        (f"arn:aws:rds:us-east-1:{ACCOUNT}:snapshot:s", "not 'cluster-snapshot'"),
        (f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot", "not 'cluster-snapshot'"),
        (f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:", "must not be empty"),
        (f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:my_snap", "found '_'"),
        (f"arn:aws:rds:us-east-1:{ACCOUNT}:cluster-snapshot:rds:a--b", "(after rds:)"),
    ],
)
def test_parse_snapshot_arn_rejects(arn: str, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_cluster_snapshot_arn(arn)
    assert fragment in str(caught.value)


def test_split_arn_keeps_the_resource_whole() -> None:
    parts = split_arn(AUTOMATED_ARN)
    assert (parts.partition, parts.service, parts.region, parts.account) == ("aws", "rds", "us-east-1", ACCOUNT)
    assert parts.resource == "cluster-snapshot:rds:my-cluster-2026-11-01-03-10"


def test_cluster_arn() -> None:
    assert cluster_arn("aws-cn", "cn-north-1", ACCOUNT, "c") == f"arn:aws-cn:rds:cn-north-1:{ACCOUNT}:cluster:c"


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws-us-gov:states:us-gov-west-1:{ACCOUNT}:stateMachine:aurora-lake",
        f"arn:aws-us-gov:states:us-gov-west-1:{ACCOUNT}:execution:aurora-lake:run-1",
    ],
)
def test_parse_state_machine_arn(arn: str) -> None:
    assert parse_state_machine_arn(arn) == StateMachineArn("aws-us-gov", "us-gov-west-1", ACCOUNT, "aurora-lake")


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f",
        f"arn:aws:states:us-east-1:{ACCOUNT}:activity:a",
        f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:",
        "stateMachine:x",
    ],
)
def test_parse_state_machine_arn_rejects(arn: str) -> None:
    with pytest.raises(ValueError):
        parse_state_machine_arn(arn)


# --- the workflow's own snapshots, and triggered starts this deployment does not act on ---------


def test_own_snapshots_are_recognised_by_their_exact_name_only() -> None:
    from aurora_lake import naming

    ours = naming.snapshot_identifier("orders-prod", "run-1")
    assert naming.is_own_snapshot(ours, ["billing", "orders-prod"])
    assert naming.is_own_snapshot(ours.upper(), ["orders-prod"])
    for name in ("orders-prod-lake-before-upgrade", ours + "0", ours[:-1], "rds:" + ours, "data-lake-prod-1",
                 "orders-prod-lake-0123456789AG"):
        assert not naming.is_own_snapshot(name, ["orders-prod", "data"]), name
    assert not naming.is_own_snapshot(ours, ["orders"])  # another cluster's prefix is not enough


@pytest.mark.parametrize(
    ("name", "ignored"),
    [
        ("rds:orders-prod-2026-11-01-03-10", None),
        ("orders-prod-before-upgrade", None),
        ("data-lake-prod-2026-11-01", None),  # a cluster with "-lake-" in its name is exported
        ("payments-2026-11-01", "not of a cluster"),
        ("rds:payments-2026-11-01-03-10", "not of a cluster"),
        ("awsbackup:job-1234", None),  # its cluster is read from RDS by CheckSnapshot
    ],
)
def test_triggered_starts_ignored_by_name(name: str, ignored: str | None) -> None:
    from aurora_lake import triggers

    job = {"trigger": "snapshot-event", "snapshot_identifier": name}
    reason = triggers.reason_to_ignore(job, frozenset({"orders-prod", "data-lake-prod"}))
    assert (reason is None) if ignored is None else (ignored in (reason or ""))
    own = {"trigger": "snapshot-event", "snapshot_identifier": "orders-prod-lake-0123456789ab"}
    assert "taken by this workflow" in (triggers.reason_to_ignore(own, frozenset({"orders-prod"})) or "")
    # A start by hand (no trigger) is never ignored: it fails and notifies as before.
    assert triggers.reason_to_ignore({"snapshot_identifier": "payments-1"}, frozenset({"orders-prod"})) is None
