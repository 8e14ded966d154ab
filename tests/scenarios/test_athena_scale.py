"""5,000 tables in one export, through the real state machine.

Athena takes a realistic 1.5 s per DDL statement with its default of 20
concurrent DDL queries per account. The state stays far from Step Functions'
256 KiB limit because tables travel in S3, not in the state, and every
invocation returns well before its timeout.
"""

from __future__ import annotations

from typing import Any

import pytest

from emulated_account import EmulatedAccount, ExportBehaviour

TABLES = 5_000
STATE_LIMIT_BYTES = 256 * 1024
ATHENA_STEP_LIMIT_SECONDS = 600


@pytest.mark.slow
def test_five_thousand_tables_stay_small_in_the_state_and_fast_in_athena(record_property: Any) -> None:
    with EmulatedAccount(
        export=ExportBehaviour(duration_seconds=600, synthetic_tables=TABLES, tables_per_info_file=1_000),
        athena_ddl_latency=1.5,
        athena_ddl_concurrency=20,
    ) as account:
        result = account.run({"cluster_identifier": "demo-aurora-cluster"}, timeout=300)
        timeout_seconds = account.functions["CreateAthenaTablesFunction"].timeout
        athena_invocations = [call for call in account.runtime.invocations if call.function == "CreateAthenaTablesFunction"]

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    creates = [query for query in result.athena_queries if query.startswith("CREATE EXTERNAL TABLE")]
    assert len(creates) == TABLES

    entered = [entry for entry in result.state_entries if entry.name in {"CreateAthenaTables", "CleanUpSnapshot"}]
    athena_started = entered[0].simulated_seconds
    athena_ended = next(entry.simulated_seconds for entry in entered if entry.name == "CleanUpSnapshot")
    athena_seconds = athena_ended - athena_started
    longest_invocation = max(call.ended_at - call.started_at for call in athena_invocations)

    record_property("report", f"5,000 tables: largest state payload {result.max_state_payload_bytes} bytes, "
                    f"Athena step {athena_seconds:.0f} simulated s in {len(athena_invocations)} invocations, "
                    f"longest invocation {longest_invocation:.0f} s of {timeout_seconds} s")
    assert result.max_state_payload_bytes < STATE_LIMIT_BYTES // 8
    assert athena_seconds <= ATHENA_STEP_LIMIT_SECONDS
    assert longest_invocation <= 0.8 * timeout_seconds
