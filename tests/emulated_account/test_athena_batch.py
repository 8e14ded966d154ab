"""BatchGetQueryExecution in the emulated account answers as GetQueryExecution does."""

from __future__ import annotations

from emulated_account import EmulatedAccount


def test_batch_status_follows_the_simulated_ddl_latency_and_reports_unknown_ids() -> None:
    with EmulatedAccount(athena_ddl_latency=1.5) as account:
        athena = account.client("athena")
        workgroup = account.ref("AthenaWorkGroup")
        ids = [
            athena.start_query_execution(QueryString=f"CREATE EXTERNAL TABLE t{i} (a int) LOCATION 's3://b/x/'", WorkGroup=workgroup)["QueryExecutionId"]
            for i in range(3)
        ]
        running = athena.batch_get_query_execution(QueryExecutionIds=[*ids, "unknown-id"])
        account.clock.advance(2)
        finished = athena.batch_get_query_execution(QueryExecutionIds=ids)
        single = athena.get_query_execution(QueryExecutionId=ids[0])["QueryExecution"]
    assert [query["QueryExecutionId"] for query in running["QueryExecutions"]] == ids
    assert {query["Status"]["State"] for query in running["QueryExecutions"]} == {"RUNNING"}
    assert [item["QueryExecutionId"] for item in running["UnprocessedQueryExecutionIds"]] == ["unknown-id"]
    assert {query["Status"]["State"] for query in finished["QueryExecutions"]} == {"SUCCEEDED"}
    assert finished["QueryExecutions"][0]["Query"] == single["Query"]
