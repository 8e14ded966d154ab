"""Freshness markers: what counts as a success, where a source's marker lives, and which sources are stale."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from aurora_lake import freshness, naming, notifications
from aurora_lake.freshness import SourceRef

LAKE = "123456789012"
HOUR = 3600.0


def _state(tables: Any = 3, **job: Any) -> dict[str, Any]:
    return {"job": {"account": LAKE, "source_kind": "cluster", "source_identifier": "orders", "execution_arn": "arn:x", **job},
            "snapshot": {}, "export": {"export_task_identifier": "t"}, "athena": {"tables_created": tables}}


@pytest.mark.parametrize(("tables", "fresh"), [(3, True), (1, True), (0, False), (None, False), ("3", False), (True, False)])
def test_only_a_run_that_catalogued_a_table_counts(tables: Any, fresh: bool) -> None:
    # One rule for fresh, the notification's: what Notify records a marker for and counts as succeeded.
    assert notifications.counts_as_fresh(_state(tables)) is fresh
    assert notifications.counts_as_fresh({"athena": None}) is False


def test_a_marker_key_names_only_a_validated_account_kind_and_identifier() -> None:
    assert freshness.source_of(_state()) == SourceRef(LAKE, "cluster", "orders")
    assert SourceRef(LAKE, "instance", "crm-db").key == f"state/last-success/{LAKE}/instance/crm-db.json"
    # A DB instance's marker, read from the snapshot record.
    state = _state()
    state["job"].pop("source_identifier")
    state["snapshot"] = {"source_kind": "instance", "source_identifier": "CRM-db"}
    assert freshness.source_of(state) == SourceRef(LAKE, "instance", "crm-db")
    for forged in ({"source_identifier": "../../reports/fleets/x"}, {"source_identifier": "a/b"}, {"account": "1234"},
                   {"account": f"{LAKE}/../x"}, {"source_kind": "table"}, {"source_identifier": None}):
        assert freshness.source_of(_state(**forged)) is None, forged
    with pytest.raises(ValueError):
        naming.last_success_key(LAKE, "cluster", "x/../../y")


def test_stale_sources_are_those_past_the_hours_or_never_exported_oldest_first() -> None:
    now = 100 * HOUR
    last = {SourceRef(LAKE, "cluster", "fresh"): now - 2 * HOUR, SourceRef(LAKE, "cluster", "old"): now - 30 * HOUR,
            SourceRef("111111111111", "cluster", "never"): None, SourceRef(LAKE, "instance", "edge"): now - 26 * HOUR}
    stale = freshness.stale(last, now, 26)
    assert [(e["identifier"], e["hours_since"]) for e in stale] == [("never", None), ("old", 30.0)]
    assert freshness.stale(last, now, 1)[-1]["identifier"] == "fresh"


class MarkerS3:
    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.put: dict[str, bytes] = {}
        self.listed: list[str] = []

    def get_paginator(self, operation: str) -> Any:
        assert operation == "list_objects_v2"
        owner = self

        class Pages:
            def paginate(self, Bucket: str, Prefix: str) -> list[dict[str, Any]]:  # noqa: N803
                owner.listed.append(Prefix)
                return [{"Contents": [{"Key": key} for key in sorted(owner.objects) if key.startswith(Prefix)]}]

        return Pages()

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803 - boto3's names
        if Key not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": Key}}, "GetObject")
        return {"Body": io.BytesIO(self.objects[Key])}

    def put_object(self, Bucket: str, Key: str, Body: bytes, ContentType: str) -> None:  # noqa: N803
        self.put[Key] = Body


def test_markers_are_read_back_and_an_unreadable_one_is_no_success() -> None:
    good, broken, odd = SourceRef(LAKE, "cluster", "a"), SourceRef(LAKE, "cluster", "b"), SourceRef(LAKE, "cluster", "c")
    s3 = MarkerS3({good.key: b'{"succeeded_at": 5.0}', broken.key: b"not json", odd.key: b'{"succeeded_at": true}'})
    assert freshness.last_successes(s3, "bucket", [good, broken, odd, SourceRef(LAKE, "cluster", "none")]) == {
        good: 5.0, broken: None, odd: None, SourceRef(LAKE, "cluster", "none"): None}
    # Listed per account under state/last-success/ (what the summary's role may list), never beyond.
    assert s3.listed == [f"state/last-success/{LAKE}/"]


def test_a_marker_records_when_and_what_exported() -> None:
    s3 = MarkerS3({})
    source = SourceRef(LAKE, "cluster", "orders")
    key = freshness.record_success(s3, "bucket", source, freshness.marker(_state(), 42.0))
    assert key == source.key
    assert json.loads(s3.put[key]) == {"version": 1, "succeeded_at": 42.0, "execution_arn": "arn:x", "export_task": "t",
                                       "tables_created": 3, "account": LAKE, "kind": "cluster", "identifier": "orders"}


def test_an_error_other_than_a_missing_marker_is_raised() -> None:
    class Denied(MarkerS3):
        def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetObject")

    source = SourceRef(LAKE, "cluster", "a")
    with pytest.raises(ClientError):
        freshness.last_successes(Denied({source.key: b"{}"}), "bucket", [source])
