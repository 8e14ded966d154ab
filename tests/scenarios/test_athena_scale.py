"""Many tables in one export, through the real state machine: every table an Iceberg table.

The state stays far from Step Functions' 256 KiB limit because tables travel in S3, not in the
state, and every invocation returns well before its timeout. Each table is a real PyIceberg
commit against the emulated S3 and Glue (about 30 ms of CPU here), so this test runs 200 tables;
the step at 5,000 tables is ``tests/handlers/test_create_athena_tables.py`` (the orchestration,
resumed over invocations) and ``make bench`` (the whole run, figures in docs/performance.md).
"""

from __future__ import annotations

from typing import Any

import pytest

from emulated_account import EmulatedAccount, ExportBehaviour

from .conftest import glue_tables

TABLES = 200
STATE_LIMIT_BYTES = 256 * 1024
ATHENA_STEP_LIMIT_SECONDS = 600


@pytest.mark.slow
def test_many_tables_stay_small_in_the_state_and_each_is_an_iceberg_table(record_property: Any) -> None:
    with EmulatedAccount(
        export=ExportBehaviour(duration_seconds=600, synthetic_tables=TABLES, tables_per_info_file=50),
        athena_ddl_latency=1.5,
        athena_ddl_concurrency=20,
    ) as account:
        result = account.run({"cluster_identifier": "demo-aurora-cluster"}, timeout=300)
        timeout_seconds = account.functions["CreateAthenaTablesFunction"].timeout
        athena_invocations = [call for call in account.runtime.invocations if call.function == "CreateAthenaTablesFunction"]
        iceberg = [t for t in glue_tables(account).values() if t["Parameters"].get("table_type") == "ICEBERG"]

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert len(iceberg) == TABLES

    entered = [entry for entry in result.state_entries if entry.name in {"CreateAthenaTables", "CleanUpSnapshot"}]
    athena_started = entered[0].simulated_seconds
    athena_ended = next(entry.simulated_seconds for entry in entered if entry.name == "CleanUpSnapshot")
    athena_seconds = athena_ended - athena_started
    longest_invocation = max(call.ended_at - call.started_at for call in athena_invocations)

    record_property("report", f"{TABLES} tables: largest state payload {result.max_state_payload_bytes} bytes, "
                    f"Athena step {athena_seconds:.0f} simulated s in {len(athena_invocations)} invocations, "
                    f"longest invocation {longest_invocation:.0f} s of {timeout_seconds} s")
    assert result.max_state_payload_bytes < STATE_LIMIT_BYTES // 8
    assert athena_seconds <= ATHENA_STEP_LIMIT_SECONDS
    assert longest_invocation <= 0.8 * timeout_seconds
