"""A source account's successful run never counts for the freshness alarm of the lake's own cluster of that name."""

from __future__ import annotations

import json

import pytest

from aurora_lake import observability


def published_dimensions(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    [line] = [line for line in capsys.readouterr().out.splitlines() if '"ExportsSucceeded"' in line]
    record = json.loads(line)
    [names] = record["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    return {name: record[name] for name in names}


def test_a_source_accounts_count_carries_the_account_as_a_dimension(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STACK_NAME", "lake-a")
    observability.count_for_cluster("ExportsSucceeded", "demo-aurora-cluster")
    own = published_dimensions(capsys)
    observability.count_for_cluster("ExportsSucceeded", "demo-aurora-cluster", "111111111111")
    theirs = published_dimensions(capsys)
    assert "account" not in own and own["cluster"] == "demo-aurora-cluster"
    # Another set of dimensions is another metric: the lake's own alarm never sees it.
    assert theirs == {**own, "account": "111111111111"}
