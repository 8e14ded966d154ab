"""The execution input schema: every malformed input refused with its field and reason."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

_COMMON = str(Path(__file__).resolve().parents[2] / "functions" / "common")
if _COMMON not in sys.path:
    sys.path.insert(0, _COMMON)

from aurora_lake import errors, limits  # noqa: E402
from aurora_lake.errors import ClusterNotAllowed, InvalidInput  # noqa: E402
from aurora_lake.input_schema import MAX_LISTED_PROBLEMS, Problem, validate_execution_input  # noqa: E402

REGION = "us-east-1"
ACCOUNT = "123456789012"
CLUSTER = "demo-aurora-cluster"
ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster-snapshot:my-snapshot"
AUTOMATED_ARN = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster-snapshot:rds:demo-aurora-cluster-2026-11-01-03-10"
ARN_HEAD = f"arn:aws:rds:{REGION}:{ACCOUNT}"


def validate(raw: object, allowed: frozenset[str] | None = None, default_prefix: str = "exports/") -> dict[str, Any]:
    return validate_execution_input(
        raw,
        region=REGION,
        account=ACCOUNT,
        partition="aws",
        allowed_clusters=allowed,
        default_s3_prefix=default_prefix,
    )


def problems_of(raw: object) -> list[Problem]:
    with pytest.raises(InvalidInput) as caught:
        validate(raw)
    problems: list[Problem] = caught.value.problems  # type: ignore[attr-defined]
    # The message is exactly the problems, one "field: reason" line each.
    assert str(caught.value).splitlines() == [f"{p.field}: {p.reason}" for p in problems]
    return problems


def c(**fields: object) -> dict[str, object]:
    """A valid new-snapshot input with some fields replaced or added."""
    return {"cluster_identifier": CLUSTER, **fields}


def s(**fields: object) -> dict[str, object]:
    """A valid existing-snapshot input with some fields replaced or added."""
    return {"snapshot_arn": ARN, **fields}


BIG_EXPORT_ONLY = [f"mydb.table_{i:06d}" for i in range(12_000)]

# (case id, input, field, fragment of the reason, whether that field is the only one with problems)
BAD_INPUTS: list[tuple[str, object, str, str, bool]] = [
    # the top level
    ("top: array", [CLUSTER], "input", "must be a JSON object, got array", True),
    ("top: string", CLUSTER, "input", "must be a JSON object, got string", True),
    ("top: JSON in a string", json.dumps(c()), "input", "encoded twice", True),
    ("top: integer", 42, "input", "got number", True),
    ("top: float", 4.5, "input", "got number", True),
    ("top: boolean", True, "input", "got boolean", True),
    ("top: null", None, "input", "got null", True),
    ("no source", {}, "input", "none was given", True),
    ("no source, only options", {"export_only": ["mydb"]}, "input", "none was given", True),
    ("both sources", {"cluster_identifier": CLUSTER, "snapshot_arn": ARN}, "input", "not cluster_identifier and snapshot_arn", True),
    ("cluster and instance", {"cluster_identifier": CLUSTER, "db_instance_identifier": "orders-db"}, "input", "not cluster_identifier and db_instance_identifier", True),
    ("instance: bad identifier", {"db_instance_identifier": "orders_db"}, "db_instance_identifier", "found '_'", True),
    ("instance: exported directly", {"db_instance_identifier": "orders-db", "export_cluster_directly": True}, "export_cluster_directly", "only from a snapshot", True),
    ("backup: RDS job with a cluster snapshot", {"aws_backup_job": {"resourceType": "RDS", "state": "COMPLETED", "recoveryPointArn": ARN}}, "aws_backup_job.recoveryPointArn", "is not a snapshot ARN", True),
    # unknown keys
    ("typo export_onyl", c(export_onyl=["mydb.users"]), "export_onyl", "did you mean export_only?", True),
    ("camelCase key", {"clusterIdentifier": CLUSTER}, "clusterIdentifier", "did you mean cluster_identifier?", False),
    ("PascalCase key", s(S3Prefix="x/"), "S3Prefix", "did you mean s3_prefix?", True),
    ("typo delete", c(delete_snapshot_after_exports=False), "delete_snapshot_after_exports", "did you mean delete_snapshot_after_export?", True),
    ("unrelated key", c(foo=1), "foo", "allowed keys are cluster_identifier", True),
    # cluster_identifier: types
    ("cluster: number", {"cluster_identifier": 123}, "cluster_identifier", "must be a string, got number", True),
    ("cluster: boolean", {"cluster_identifier": True}, "cluster_identifier", "must be a string, got boolean", True),
    ("cluster: null", {"cluster_identifier": None}, "cluster_identifier", "must be a string, got null", True),
    ("cluster: array", {"cluster_identifier": [CLUSTER]}, "cluster_identifier", "must be a string, got array", True),
    ("cluster: object", {"cluster_identifier": {"id": CLUSTER}}, "cluster_identifier", "must be a string, got object", True),
    # cluster_identifier: identifier rules
    ("cluster: empty", {"cluster_identifier": ""}, "cluster_identifier", "must not be empty", True),
    ("cluster: leading digit", {"cluster_identifier": "1cluster"}, "cluster_identifier", "must begin with a letter", True),
    ("cluster: leading hyphen", {"cluster_identifier": "-cluster"}, "cluster_identifier", "must begin with a letter", True),
    ("cluster: trailing hyphen", {"cluster_identifier": "cluster-"}, "cluster_identifier", "must not end with a hyphen", True),
    ("cluster: double hyphen", {"cluster_identifier": "my--cluster"}, "cluster_identifier", "two consecutive hyphens", True),
    ("cluster: underscore", {"cluster_identifier": "my_cluster"}, "cluster_identifier", "found '_'", True),
    ("cluster: space", {"cluster_identifier": "my cluster"}, "cluster_identifier", "found space", True),
    ("cluster: dot", {"cluster_identifier": "my.cluster"}, "cluster_identifier", "found '.'", True),
    ("cluster: too long", {"cluster_identifier": "a" * 64}, "cluster_identifier", "at most 63 characters", True),
    # snapshot_arn: types
    ("arn: number", {"snapshot_arn": 7}, "snapshot_arn", "must be a string, got number", True),
    ("arn: boolean", {"snapshot_arn": False}, "snapshot_arn", "must be a string, got boolean", True),
    ("arn: null", {"snapshot_arn": None}, "snapshot_arn", "must be a string, got null", True),
    ("arn: array", {"snapshot_arn": [ARN]}, "snapshot_arn", "must be a string, got array", True),
    ("arn: object", {"snapshot_arn": {"arn": ARN}}, "snapshot_arn", "must be a string, got object", True),
    # snapshot_arn: form
    ("arn: empty", {"snapshot_arn": ""}, "snapshot_arn", "must not be empty", True),
    ("arn: a bare name", {"snapshot_arn": "my-snapshot"}, "snapshot_arn", "must be a cluster snapshot ARN of the form", True),
    ("arn: wrong prefix", {"snapshot_arn": "ARN" + ARN[3:]}, "snapshot_arn", "must be a cluster snapshot ARN of the form", True),
    ("arn: truncated", {"snapshot_arn": "arn:aws:rds:us-east-1"}, "snapshot_arn", "must be a cluster snapshot ARN of the form", True),
    ("arn: wrong partition", {"snapshot_arn": ARN.replace("arn:aws:", "arn:aws-cn:")}, "snapshot_arn", "partition \"aws-cn\" is not", True),
    ("arn: service ec2", {"snapshot_arn": ARN.replace(":rds:", ":ec2:")}, "snapshot_arn", "service \"ec2\" is not rds", True),
    ("arn: other Region", {"snapshot_arn": ARN.replace(REGION, "eu-west-1")}, "snapshot_arn", "Region \"eu-west-1\" is not this deployment's", True),
    ("arn: other account", {"snapshot_arn": ARN.replace(ACCOUNT, "210987654321")}, "snapshot_arn", "account \"210987654321\" is not", True),
    ("arn: instance, not snapshot", {"snapshot_arn": f"{ARN_HEAD}:db:orders-db"}, "snapshot_arn", "resource type \"db\" is neither cluster-snapshot nor snapshot", True),
    ("arn: cluster, not snapshot", {"snapshot_arn": f"{ARN_HEAD}:cluster:{CLUSTER}"}, "snapshot_arn", "resource type \"cluster\" is neither cluster-snapshot nor snapshot", True),
    ("arn: slash separator", {"snapshot_arn": f"{ARN_HEAD}:cluster-snapshot/snap"}, "snapshot_arn", "is neither cluster-snapshot nor snapshot", True),
    ("arn: no name", {"snapshot_arn": f"{ARN_HEAD}:cluster-snapshot"}, "snapshot_arn", "has no snapshot name", True),
    ("arn: empty name", {"snapshot_arn": f"{ARN_HEAD}:cluster-snapshot:"}, "snapshot_arn", "has no snapshot name", True),
    ("arn: name with underscore", {"snapshot_arn": f"{ARN_HEAD}:cluster-snapshot:my_snap"}, "snapshot_arn", "snapshot name may contain only", True),
    ("arn: automated name broken", {"snapshot_arn": f"{ARN_HEAD}:cluster-snapshot:rds:a--b"}, "snapshot_arn", "(after rds:) must not contain two consecutive hyphens", True),
    # use_latest_automated_snapshot
    ("latest: string", c(use_latest_automated_snapshot="true"), "use_latest_automated_snapshot", "write it without quotes", True),
    ("latest: integer", c(use_latest_automated_snapshot=1), "use_latest_automated_snapshot", "got number", True),
    ("latest: null", c(use_latest_automated_snapshot=None), "use_latest_automated_snapshot", "got null", True),
    ("latest: array", c(use_latest_automated_snapshot=[True]), "use_latest_automated_snapshot", "got array", True),
    ("latest with snapshot_arn", s(use_latest_automated_snapshot=True), "use_latest_automated_snapshot", "cannot be combined with snapshot_arn", True),
    ("latest without cluster", {"use_latest_automated_snapshot": True}, "use_latest_automated_snapshot", "requires cluster_identifier", False),
    # export_cluster_directly
    ("direct: string", c(export_cluster_directly="true"), "export_cluster_directly", "write it without quotes", True),
    ("direct: integer", c(export_cluster_directly=1), "export_cluster_directly", "got number", True),
    ("direct with snapshot_arn", s(export_cluster_directly=True), "export_cluster_directly", "cannot be combined with snapshot_arn", True),
    ("direct without cluster", {"export_cluster_directly": True}, "export_cluster_directly", "requires cluster_identifier", False),
    ("direct with latest automated", c(export_cluster_directly=True, use_latest_automated_snapshot=True), "export_cluster_directly", "cannot be combined with use_latest_automated_snapshot", True),
    ("delete true, direct", c(export_cluster_directly=True, delete_snapshot_after_export=True), "delete_snapshot_after_export", "only when the execution takes a new snapshot", True),
    # delete_snapshot_after_export
    ("delete: string", c(delete_snapshot_after_export="true"), "delete_snapshot_after_export", "must be a JSON boolean", True),
    ("delete: string no", c(delete_snapshot_after_export="no"), "delete_snapshot_after_export", "got string", True),
    ("delete: integer 0", c(delete_snapshot_after_export=0), "delete_snapshot_after_export", "got number", True),
    ("delete: object", c(delete_snapshot_after_export={}), "delete_snapshot_after_export", "got object", True),
    ("delete: null", c(delete_snapshot_after_export=None), "delete_snapshot_after_export", "got null", True),
    ("delete true, existing snapshot", s(delete_snapshot_after_export=True), "delete_snapshot_after_export", "never deletes a snapshot it did not take", True),
    ("delete true, latest automated", c(use_latest_automated_snapshot=True, delete_snapshot_after_export=True), "delete_snapshot_after_export", "only when the execution takes a new snapshot", True),
    # export_only: types and size
    ("export_only: string", c(export_only="mydb.users"), "export_only", "put even a single name in a list", True),
    ("export_only: object", c(export_only={"mydb": "users"}), "export_only", "must be an array of strings, got object", True),
    ("export_only: null", c(export_only=None), "export_only", "got null", True),
    ("export_only: number", c(export_only=5), "export_only", "got number", True),
    ("export_only: boolean", c(export_only=True), "export_only", "got boolean", True),
    ("export_only: empty", c(export_only=[]), "export_only", "omit export_only to export everything", True),
    ("export_only: over 200 KB", c(export_only=BIG_EXPORT_ONLY), "export_only", "at most 200 KB", True),
    # export_only: entries
    ("entry: number", c(export_only=["mydb", 1]), "export_only[1]", "must be a string, got number", True),
    ("entry: null", c(export_only=[None]), "export_only[0]", "got null", True),
    ("entry: array", c(export_only=[["mydb"]]), "export_only[0]", "got array", True),
    ("entry: empty", c(export_only=[""]), "export_only[0]", "must not be empty", True),
    ("entry: four parts", c(export_only=["a.b.c.d"]), "export_only[0]", "has 4 dot-separated parts", True),
    ("entry: double dot", c(export_only=["mydb..users"]), "export_only[0]", "empty name part", True),
    ("entry: leading dot", c(export_only=[".users"]), "export_only[0]", "empty name part", True),
    ("entry: trailing dot", c(export_only=["mydb."]), "export_only[0]", "empty name part", True),
    ("entry: hyphen", c(export_only=["my-db.users"]), "export_only[0]", "found '-'", True),
    ("entry: space", c(export_only=["mydb.my users"]), "export_only[0]", "found space", True),
    ("entry: semicolon", c(export_only=["mydb;drop"]), "export_only[0]", "found ';'", True),
    ("entry: non-Latin letter", c(export_only=["mydb.café"]), "export_only[0]", "found 'é'", True),
    ("entry: duplicate", c(export_only=["mydb.users", "mydb.orders", "mydb.users"]), "export_only[2]", "duplicates export_only[0]", True),
    # s3_prefix
    ("prefix: number", c(s3_prefix=5), "s3_prefix", "must be a string, got number", True),
    ("prefix: null", c(s3_prefix=None), "s3_prefix", "got null", True),
    ("prefix: array", c(s3_prefix=["a/"]), "s3_prefix", "got array", True),
    ("prefix: boolean", c(s3_prefix=False), "s3_prefix", "got boolean", True),
    ("prefix: colon", c(s3_prefix="exports:2026/"), "s3_prefix", "must not contain ':'", True),
    ("prefix: leading slash", c(s3_prefix="/exports/"), "s3_prefix", "must not begin with '/'", True),
    ("prefix: only a slash", c(s3_prefix="/"), "s3_prefix", "must not begin with '/'", True),
    ("prefix: empty segment", c(s3_prefix="exports//daily/"), "s3_prefix", "empty path segments", True),
    ("prefix: dot-dot", c(s3_prefix="exports/../secret/"), "s3_prefix", "'..' path segments", True),
    ("prefix: dot", c(s3_prefix="./exports"), "s3_prefix", "'.' or '..' path segments", True),
    ("prefix: empty", c(s3_prefix=""), "s3_prefix", "must not be empty", True),
    ("prefix: space", c(s3_prefix="my exports/"), "s3_prefix", "found space", True),
    ("prefix: quote", c(s3_prefix="it's/"), "s3_prefix", "found \"'\"", True),
    ("prefix: too long", c(s3_prefix="a" * 900), "s3_prefix", "at most 900 characters (got 901)", True),
]


@pytest.mark.parametrize(
    ("raw", "field", "fragment", "only_field"), [case[1:] for case in BAD_INPUTS], ids=[case[0] for case in BAD_INPUTS]
)
def test_malformed_input_is_refused(raw: object, field: str, fragment: str, only_field: bool) -> None:
    problems = problems_of(raw)
    assert any(p.field == field and fragment in p.reason for p in problems), problems
    if only_field:
        assert {p.field for p in problems} == {field}, problems


def test_the_table_covers_enough_malformed_inputs() -> None:
    assert len(BAD_INPUTS) >= 40
    assert len({case[0] for case in BAD_INPUTS}) == len(BAD_INPUTS)


def test_every_problem_of_an_input_with_several_mistakes_is_listed() -> None:
    raw = {
        "cluster_identifier": "1bad_cluster",
        "snapshot_arn": f"arn:aws:ec2:eu-west-1:{ACCOUNT}:image:x",
        "export_onyl": ["mydb"],
        "export_only": ["ok.table", "bad-name", "ok.table"],
        "s3_prefix": "/a:b",
        "delete_snapshot_after_export": "false",
        "use_latest_automated_snapshot": 1,
    }
    problems = problems_of(raw)
    found = {(p.field, fragment) for p in problems for fragment in _FRAGMENTS if fragment in p.reason}
    assert found == {
        ("input", "not cluster_identifier and snapshot_arn"),
        ("cluster_identifier", "must begin with a letter"),
        ("cluster_identifier", "found '_'"),
        ("snapshot_arn", "service \"ec2\""),
        ("snapshot_arn", "Region \"eu-west-1\""),
        ("snapshot_arn", "neither cluster-snapshot nor snapshot"),
        ("export_onyl", "did you mean export_only?"),
        ("export_only[1]", "found '-'"),
        ("export_only[2]", "duplicates export_only[0]"),
        ("s3_prefix", "must not contain ':'"),
        ("s3_prefix", "must not begin with '/'"),
        ("delete_snapshot_after_export", "must be a JSON boolean"),
        ("use_latest_automated_snapshot", "must be a JSON boolean"),
    }
    assert len(problems) == len(found)
    # Ordered by field, the input as a whole first.
    fields = [p.field for p in problems]
    assert fields[0] == "input"
    assert fields[1:] == sorted(fields[1:])


_FRAGMENTS = (
    "not cluster_identifier and snapshot_arn",
    "must begin with a letter",
    "found '_'",
    "service \"ec2\"",
    "Region \"eu-west-1\"",
    "neither cluster-snapshot nor snapshot",
    "did you mean export_only?",
    "found '-'",
    "duplicates export_only[0]",
    "must not contain ':'",
    "must not begin with '/'",
    "must be a JSON boolean",
)


def test_entry_problems_are_ordered_by_index() -> None:
    entries = [f"bad-{i}" for i in range(12)]
    fields = [p.field for p in problems_of(c(export_only=entries))]
    assert fields == [f"export_only[{i}]" for i in range(12)]


def test_a_flood_of_problems_is_capped_but_counted() -> None:
    entries = [f"bad-{i}" for i in range(200)]
    with pytest.raises(InvalidInput) as caught:
        validate(c(export_only=entries))
    lines = str(caught.value).splitlines()
    # At most MAX_LISTED_PROBLEMS lines, and no more than fit in a step's Cause; one line counts the rest.
    assert 10 <= len(lines) - 1 <= MAX_LISTED_PROBLEMS
    assert lines[-1] == f"input: {200 - (len(lines) - 1)} more problems not listed"
    assert limits.cut_text(str(caught.value), limits.ERROR_MESSAGE_MAX_BYTES, encodings=2) == str(caught.value)
    assert len(caught.value.problems) == 200  # type: ignore[attr-defined]


def test_short_problems_are_listed_up_to_the_count_cap() -> None:
    entries = [f"x{i}" for i in range(120)]  # duplicates of one another are short lines
    with pytest.raises(InvalidInput) as caught:
        validate(c(export_only=entries + entries))
    lines = str(caught.value).splitlines()
    assert len(lines) == MAX_LISTED_PROBLEMS + 1
    assert lines[-1] == f"input: {120 - MAX_LISTED_PROBLEMS} more problems not listed"


def test_booleans_are_not_accepted_as_numbers_nor_numbers_as_booleans() -> None:
    # bool is an int subclass in Python; JSON keeps them apart and so does the schema.
    assert {p.field for p in problems_of(c(delete_snapshot_after_export=1))} == {"delete_snapshot_after_export"}
    assert {p.field for p in problems_of({"cluster_identifier": False})} == {"cluster_identifier"}


# --- valid inputs -------------------------------------------------------------------

JOB_KEYS = {
    "snapshot_mode",
    "source_kind",
    "source_identifier",
    "cluster_identifier",
    "db_instance_identifier",
    "snapshot_arn",
    "snapshot_identifier",
    "export_only",
    "s3_prefix",
    "delete_snapshot_after_export",
}


def test_new_snapshot_with_defaults() -> None:
    job = validate({"cluster_identifier": CLUSTER})
    assert job == {
        "snapshot_mode": "create",
        "source_kind": "cluster",
        "source_identifier": CLUSTER,
        "cluster_identifier": CLUSTER,
        "db_instance_identifier": None,
        "snapshot_arn": None,
        "snapshot_identifier": None,
        "export_only": None,
        "s3_prefix": "exports/",
        "delete_snapshot_after_export": True,
    }
    assert json.loads(json.dumps(job)) == job


def test_full_new_snapshot_input() -> None:
    job = validate(
        c(export_only=["mydb", "mydb.users", "mydb.public.orders", "my$db._x1"], s3_prefix="exports/full_export", delete_snapshot_after_export=False)
    )
    assert job["snapshot_mode"] == "create"
    assert job["export_only"] == ["mydb", "mydb.users", "mydb.public.orders", "my$db._x1"]
    assert job["s3_prefix"] == "exports/full_export/"
    assert job["delete_snapshot_after_export"] is False
    assert set(job) == JOB_KEYS


def test_cluster_identifier_is_lower_cased_like_rds_stores_it() -> None:
    assert validate({"cluster_identifier": "Demo-Aurora-Cluster"})["cluster_identifier"] == CLUSTER


def test_latest_automated_snapshot_mode() -> None:
    job = validate(c(use_latest_automated_snapshot=True, delete_snapshot_after_export=False))
    assert job["snapshot_mode"] == "latest_automated"
    assert job["cluster_identifier"] == CLUSTER
    assert job["delete_snapshot_after_export"] is False
    assert validate(c(use_latest_automated_snapshot=True))["delete_snapshot_after_export"] is False
    assert validate(c(use_latest_automated_snapshot=False))["snapshot_mode"] == "create"


def test_direct_cluster_export_mode() -> None:
    job = validate(c(export_cluster_directly=True, export_only=["mydb"]))
    assert job["snapshot_mode"] == "cluster"
    assert job["cluster_identifier"] == CLUSTER and job["snapshot_arn"] is None and job["snapshot_identifier"] is None
    assert job["delete_snapshot_after_export"] is False
    assert validate(c(export_cluster_directly=False))["snapshot_mode"] == "create"
    with pytest.raises(ClusterNotAllowed):
        validate(c(export_cluster_directly=True), allowed=frozenset({"other"}))


def test_aws_backup_recovery_point() -> None:
    arn = f"{ARN_HEAD}:cluster-snapshot:awsbackup:job-Be59cf2a-2343-4402-bd8b-226993d23453"
    job = validate({"snapshot_arn": arn}, allowed=frozenset({"other"}))  # its cluster is read later
    assert job["snapshot_mode"] == "existing"
    assert job["snapshot_identifier"] == "awsbackup:job-be59cf2a-2343-4402-bd8b-226993d23453"
    problems = problems_of({"snapshot_arn": f"{ARN_HEAD}:cluster-snapshot:awsbackup:job--x"})
    assert [p.field for p in problems] == ["snapshot_arn"] and "(after awsbackup:)" in problems[0].reason


def test_existing_manual_snapshot() -> None:
    job = validate(s(s3_prefix="exports/daily_1/"))
    assert job == {
        "snapshot_mode": "existing",
        "source_kind": "cluster",
        "source_identifier": None,
        "cluster_identifier": None,
        "db_instance_identifier": None,
        "snapshot_arn": ARN,
        "snapshot_identifier": "my-snapshot",
        "export_only": None,
        "s3_prefix": "exports/daily_1/",
        "delete_snapshot_after_export": False,
    }


def test_existing_automated_snapshot_with_rds_name() -> None:
    job = validate({"snapshot_arn": AUTOMATED_ARN, "delete_snapshot_after_export": False})
    assert job["snapshot_mode"] == "existing"
    assert job["snapshot_arn"] == AUTOMATED_ARN
    assert job["snapshot_identifier"] == "rds:demo-aurora-cluster-2026-11-01-03-10"
    assert job["delete_snapshot_after_export"] is False


def test_snapshot_name_is_lower_cased_like_rds_stores_it() -> None:
    job = validate({"snapshot_arn": ARN.replace("my-snapshot", "My-Snapshot")})
    assert job["snapshot_arn"] == ARN
    assert job["snapshot_identifier"] == "my-snapshot"


def test_other_partition_is_accepted_when_it_is_the_deployments() -> None:
    arn = f"arn:aws-cn:rds:cn-north-1:{ACCOUNT}:cluster-snapshot:snap"
    job = validate_execution_input(
        {"snapshot_arn": arn},
        region="cn-north-1",
        account=ACCOUNT,
        partition="aws-cn",
        allowed_clusters=None,
        default_s3_prefix="exports/",
    )
    assert job["snapshot_arn"] == arn


def test_default_prefix_is_normalised_and_checked() -> None:
    assert validate(c(), default_prefix="lake")["s3_prefix"] == "lake/"
    with pytest.raises(ValueError, match="default S3 prefix"):
        validate(c(), default_prefix="a:b")


def test_valid_prefix_characters() -> None:
    assert validate(c(s3_prefix="exports/year=2026/run_1.v2-x"))["s3_prefix"] == "exports/year=2026/run_1.v2-x/"


def test_json_round_trip_of_realistic_input() -> None:
    raw = json.loads('{"cluster_identifier": "demo-mysql-cluster", "export_only": ["shop.orders"], "delete_snapshot_after_export": false}')
    assert validate(raw)["export_only"] == ["shop.orders"]


# --- allowed clusters ----------------------------------------------------------------


def test_cluster_outside_the_allowed_list_is_refused() -> None:
    with pytest.raises(ClusterNotAllowed) as caught:
        validate({"cluster_identifier": "forbidden-cluster"}, allowed=frozenset({CLUSTER, "demo-mysql-cluster"}))
    assert str(caught.value).startswith("cluster_identifier: 'forbidden-cluster' is not a cluster this deployment may export")


def test_allowed_cluster_passes_whatever_its_case() -> None:
    allowed = frozenset({"Demo-Aurora-Cluster"})
    assert validate({"cluster_identifier": CLUSTER}, allowed=allowed)["cluster_identifier"] == CLUSTER
    assert validate(c(use_latest_automated_snapshot=True), allowed=allowed)["snapshot_mode"] == "latest_automated"


def test_latest_automated_mode_is_also_restricted() -> None:
    with pytest.raises(ClusterNotAllowed):
        validate({"cluster_identifier": "forbidden-cluster", "use_latest_automated_snapshot": True}, allowed=frozenset({CLUSTER}))


def test_empty_allowed_set_allows_nothing_and_none_allows_everything() -> None:
    with pytest.raises(ClusterNotAllowed, match="allows no clusters"):
        validate({"cluster_identifier": CLUSTER}, allowed=frozenset())
    assert validate({"cluster_identifier": "any-cluster"}, allowed=None)["cluster_identifier"] == "any-cluster"


def test_snapshot_arn_source_cluster_is_checked_later() -> None:
    assert validate({"snapshot_arn": ARN}, allowed=frozenset())["snapshot_mode"] == "existing"


def test_invalid_input_is_reported_before_the_allowed_list() -> None:
    with pytest.raises(InvalidInput):
        validate({"cluster_identifier": "forbidden-cluster", "export_onyl": ["a"]}, allowed=frozenset({CLUSTER}))


# --- import cost ---------------------------------------------------------------------


def test_schema_imports_only_the_standard_library() -> None:
    code = (
        "import sys; import aurora_lake.input_schema, aurora_lake.naming; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'boto3','botocore','pydantic','aws_lambda_powertools'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONPATH": _COMMON})
    assert out.stdout.strip() == "[]"


# --- s3_prefix: the exports area (a caller must not write into another export or the stack's folders)

EXPORT_ID = "demo-aurora-cluster-lake-abc123def456"


@pytest.mark.parametrize(
    ("prefix", "reason"),
    [
        (f"exports/{EXPORT_ID}/mydb/", f"folder '{EXPORT_ID}' could be another export's own folder"),
        (f"exports/{EXPORT_ID}/", "could be another export's own folder"),
        ("exports/adhoc_1/someone-elses-export/", "'someone-elses-export' could be another export's own folder"),
        ("athena-results/", "must be exports/ or a folder below it"),
        ("athena-plans/x_1/", "must be exports/ or a folder below it"),
        ("athena-catalog/", "must be exports/ or a folder below it"),
        ("export-waits/aurora-lake/", "must be exports/ or a folder below it"),
        ("other-team/data_1/", "must be exports/ or a folder below it"),
        ("Exports/x_1/", "must be exports/ or a folder below it"),
        ("exportsX/", "must be exports/ or a folder below it"),
        ("export", "must be exports/ or a folder below it"),
    ],
)
def test_a_prefix_outside_the_exports_area_or_inside_an_export_folder_is_refused(prefix: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        validate(c(s3_prefix=prefix))
    assert reason in str(raised.value)


@pytest.mark.parametrize("prefix", ["exports/", "exports", "exports/2026-11/", "exports/adhoc_1/", "exports/team=a/run.2/"])
def test_folders_of_the_exports_area_that_no_export_task_can_be_named_are_accepted(prefix: str) -> None:
    assert validate(c(s3_prefix=prefix))["s3_prefix"].startswith("exports/")


@pytest.mark.parametrize("default", ["athena-results/", "athena-plans/sub/", "export-waits/", "athena-catalog/x/"])
def test_a_deployment_whose_exports_area_overlaps_the_stacks_own_folders_fails_loudly(default: str) -> None:
    with pytest.raises(ValueError, match="overlaps the stack's own folder"):
        validate(c(), default_prefix=default)


# --- RDS DB instances ---------------------------------------------------------------


def _instance(raw: object, clusters: frozenset[str] | None = None, instances: frozenset[str] | None = frozenset({"orders-db"})) -> dict[str, Any]:
    return validate_execution_input(raw, region=REGION, account=ACCOUNT, partition="aws", allowed_clusters=clusters,
                                    allowed_db_instances=instances, default_s3_prefix="exports/")


def test_a_db_instance_input_names_its_kind_and_source() -> None:
    job = _instance({"db_instance_identifier": "Orders-DB"})
    assert (job["snapshot_mode"], job["source_kind"], job["source_identifier"]) == ("create", "instance", "orders-db")
    assert (job["db_instance_identifier"], job["cluster_identifier"]) == ("orders-db", None)
    assert job["delete_snapshot_after_export"] is True and set(job) == JOB_KEYS
    latest = _instance({"db_instance_identifier": "orders-db", "use_latest_automated_snapshot": True})
    assert latest["snapshot_mode"] == "latest_automated" and latest["delete_snapshot_after_export"] is False


@pytest.mark.parametrize("name", ["manual-1", "rds:orders-db-2026-11-01-04-20", "awsbackup:job-6b1e4f0c-2d7a-4e93-8c15-0f9a3b7d2e64"])
def test_every_kind_of_db_snapshot_arn_is_taken(name: str) -> None:
    job = _instance({"snapshot_arn": f"{ARN_HEAD}:snapshot:{name}"}, instances=frozenset())  # its instance is read later
    assert (job["snapshot_mode"], job["source_kind"], job["source_identifier"]) == ("existing", "instance", None)
    assert job["snapshot_identifier"] == name


def test_a_cluster_s_permission_never_covers_a_db_instance_of_the_same_name() -> None:
    # Attack: name an allowed cluster's identifier as a DB instance (or the reverse).
    with pytest.raises(errors.DBInstanceNotAllowed, match="AllowedDBInstanceIdentifiers"):
        _instance({"db_instance_identifier": "orders"}, clusters=frozenset({"orders"}), instances=frozenset({"billing-db"}))
    with pytest.raises(ClusterNotAllowed, match="AllowedClusterIdentifiers"):
        _instance({"cluster_identifier": "orders-db"}, clusters=frozenset({"orders"}))
    with pytest.raises(errors.DBInstanceNotAllowed, match="allows no DB instances"):
        _instance({"db_instance_identifier": "orders"}, instances=frozenset())
    # The safe default: a caller that names no DB instance list allows none.
    with pytest.raises(errors.DBInstanceNotAllowed):
        validate({"db_instance_identifier": "orders-db"})


@pytest.mark.parametrize(
    ("raw", "field", "fragment"),
    [
        ({"db_instance_identifier": "orders\ndb"}, "db_instance_identifier", "found '\\n'"),
        ({"db_instance_identifier": "o" * 1000}, "db_instance_identifier", "at most 63 characters (got 1000)"),
        ({"db_instance_identifier": ["orders-db"]}, "db_instance_identifier", "must be a string"),
        ({"snapshot_arn": f"{ARN_HEAD}:SNAPSHOT:manual-1"}, "snapshot_arn", "neither cluster-snapshot nor snapshot"),
        ({"snapshot_arn": f"{ARN_HEAD}:snapshot:awsbackup:job-x--y"}, "snapshot_arn", "(after awsbackup:)"),
        ({"db_instance_identifier": "orders-db", "snapshot_arn": f"{ARN_HEAD}:snapshot:x"}, "input", "not db_instance_identifier and snapshot_arn"),
        ({"aws_backup_job": {"resourceType": "RDS", "state": "COMPLETED", "recoveryPointArn": f"{ARN_HEAD}:db:orders-db"}},
         "aws_backup_job.recoveryPointArn", "neither cluster-snapshot nor snapshot"),
    ],
)
def test_hostile_db_instance_inputs_are_refused_naming_the_field(raw: dict[str, Any], field: str, fragment: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        _instance(raw)
    assert any(p.field == field and fragment in p.reason for p in caught.value.problems), caught.value  # type: ignore[attr-defined]


def test_an_aws_backup_job_of_a_db_instance_exports_its_db_snapshot() -> None:
    arn = f"{ARN_HEAD}:snapshot:awsbackup:job-6b1e4f0c-2d7a-4e93-8c15-0f9a3b7d2e64"
    job = _instance({"aws_backup_job": {"resourceType": "RDS", "state": "COMPLETED", "recoveryPointArn": arn}})
    assert (job["source_kind"], job["snapshot_arn"]) == ("instance", arn)
