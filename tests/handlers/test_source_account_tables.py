"""Tables of a source account's cluster: the account in their names and in their ownership record."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from aurora_lake.catalog import iceberg
from aurora_lake.catalog.iceberg_io import Boto3FileIO

from .test_create_athena_tables import (
    BUCKET, CLUSTER, LEDGER, USERS, Lake, glue_table, latest_tables, make_lake, metadata, run_until_done, state, write_export,
)

SOURCE = "111111111111"


@pytest.fixture
def lake(aws: None, environment: Any) -> Iterator[Lake]:
    environment(EXPORT_BUCKET=BUCKET, GLUE_DATABASE="aurora_lake", ATHENA_WORKGROUP="aurora-lake", FAIL_ON_PARTIAL_EXPORT="false")
    yield from make_lake()


def source_state(export_id: str) -> dict[str, Any]:
    prefix = f"exports/accounts/{SOURCE}/"
    found = state(export_id, account=SOURCE, source_account=SOURCE, s3_prefix=prefix)
    found["export"] = {**found["export"], "s3_prefix": prefix,
                       "source_arn": f"arn:aws:rds:us-east-1:{SOURCE}:cluster-snapshot:{CLUSTER}-lake-0123456789ab"}
    return found


def test_a_cluster_of_the_same_name_in_a_source_account_never_shares_a_table(lake: Lake) -> None:
    write_export("exp-own", [[LEDGER]])
    run_until_done(lake, state("exp-own"))
    write_export("exp-src", [[LEDGER, USERS]], prefix=f"exports/accounts/{SOURCE}/")
    final = run_until_done(lake, source_state("exp-src"))[-1]

    assert final["tables_created"] == 2 and final["tables_skipped"] == 0
    assert latest_tables() == {
        "demo_aurora_cluster__mydb__public__ledger_entries",
        f"{SOURCE}__demo_aurora_cluster__mydb__public__ledger_entries",
        f"{SOURCE}__demo_aurora_cluster__mydb__public__users",
    }
    own = glue_table("demo_aurora_cluster__mydb__public__ledger_entries")
    theirs = glue_table(f"{SOURCE}__demo_aurora_cluster__mydb__public__ledger_entries")
    assert own["Parameters"]["aurora_lake.source_account"] == "123456789012"
    assert theirs["Parameters"]["aurora_lake.source_account"] == SOURCE
    # Its snapshot registers the files the source account's export wrote under its own folder.
    (snapshot,) = metadata(f"{SOURCE}__demo_aurora_cluster__mydb__public__ledger_entries").snapshots
    files = [e.data_file.file_path for m in snapshot.manifests(Boto3FileIO()) for e in m.fetch_manifest_entry(Boto3FileIO())]
    assert all(f.startswith(f"s3://{BUCKET}/exports/accounts/{SOURCE}/exp-src/mydb/public.Ledger_Entries/") for f in files) and files
    assert iceberg.export_of(snapshot) == "exp-src"
    assert final["report_key"] == f"athena-plans/{SOURCE}/exp_src/report.json"
