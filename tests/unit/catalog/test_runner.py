"""The Athena runner against a simulated Athena, and the parallel runner of work items.

Time is simulated through aurora_lake.clock, so minutes of Athena work run in
milliseconds and deadlines are exact.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import ClientError

from aurora_lake import clock
from aurora_lake.catalog.runner import (
    BATCH_GET_LIMIT,
    MAX_QUERY_ATTEMPTS,
    MAX_UNPROCESSED_POLLS,
    Unit,
    run_parallel,
    run_units,
)
from aurora_lake.errors import AthenaQueryFailed


class SimulatedTime:
    def __init__(self) -> None:
        self.now = 1_000.0
        self.lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        with self.lock:
            self.now += seconds


@pytest.fixture
def time() -> Iterator[SimulatedTime]:
    simulated = SimulatedTime()
    clock.use_time_source(lambda: simulated.now, simulated.sleep)
    yield simulated
    clock.use_real_time()


@dataclass
class Query:
    sql: str
    started: float
    ends: float
    state: str


@dataclass
class SimulatedAthena:
    """Athena as far as DDL needs it: queries take time, and too many at once are refused."""

    time: SimulatedTime
    limit: int = 20
    duration: float = 2.0
    # statement text -> list of FAILED reasons to give on its first runs
    failures: dict[str, list[str]] = field(default_factory=dict)
    queries: dict[str, Query] = field(default_factory=dict)
    throttled_starts: int = 0
    max_running: int = 0
    batch_calls: int = 0
    single_calls: int = 0
    # query ids the batch call leaves unprocessed
    unprocessed: set[str] = field(default_factory=set)

    def running(self) -> int:
        return sum(1 for q in self.queries.values() if q.ends > self.time.now)

    def start_query_execution(self, QueryString: str, QueryExecutionContext: dict[str, str], WorkGroup: str) -> dict[str, Any]:
        assert QueryExecutionContext == {"Database": "lake"} and WorkGroup == "wg"
        if self.running() >= self.limit:
            self.throttled_starts += 1
            raise ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}}, "StartQueryExecution")
        reasons = self.failures.get(QueryString) or []
        state = "FAILED:" + reasons.pop(0) if reasons else "SUCCEEDED"
        query_id = f"q{len(self.queries)}"
        self.queries[query_id] = Query(QueryString, self.time.now, self.time.now + self.duration, state)
        self.max_running = max(self.max_running, self.running())
        return {"QueryExecutionId": query_id}

    def execution(self, query_id: str) -> dict[str, Any]:
        query = self.queries[query_id]
        if query.ends > self.time.now:
            status: dict[str, Any] = {"State": "RUNNING"}
        elif query.state.startswith("FAILED:"):
            status = {"State": "FAILED", "StateChangeReason": query.state[7:]}
        else:
            status = {"State": "SUCCEEDED"}
        return {"QueryExecutionId": query_id, "Query": query.sql, "Status": status}

    def batch_get_query_execution(self, QueryExecutionIds: list[str]) -> dict[str, Any]:
        assert 1 <= len(QueryExecutionIds) <= 50
        self.batch_calls += 1
        found = [self.execution(q) for q in QueryExecutionIds if q not in self.unprocessed]
        missing = [{"QueryExecutionId": q, "ErrorCode": "InternalServerException", "ErrorMessage": "try again"}
                   for q in QueryExecutionIds if q in self.unprocessed]
        return {"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing}

    def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:
        self.single_calls += 1
        execution = self.execution(QueryExecutionId)
        del execution["QueryExecutionId"]  # GetQueryExecution's answer does carry it; the runner must not need it
        return {"QueryExecution": execution}

    def runs(self, sql: str) -> list[Query]:
        return [q for q in self.queries.values() if q.sql == sql]

    def succeeded(self) -> list[str]:
        return [q.sql for q in self.queries.values() if q.state == "SUCCEEDED" and q.ends <= self.time.now]


def run(athena: SimulatedAthena, units: list[Unit], start: int = 0, concurrency: int = 20, deadline: float = 1e12) -> Any:
    return run_units(athena, units, start, database="lake", workgroup="wg", concurrency=concurrency, deadline=deadline)


def single(n: int) -> list[Unit]:
    return [Unit((f"CREATE t{i}",)) for i in range(n)]


def test_never_more_queries_in_flight_than_allowed(time: SimulatedTime) -> None:
    athena = SimulatedAthena(time)
    result = run(athena, single(100), concurrency=5)
    assert result.done and result.cursor == 100
    assert result.max_in_flight == 5 and athena.max_running == 5
    assert sorted(athena.succeeded()) == sorted(f"CREATE t{i}" for i in range(100))
    assert athena.throttled_starts == 0
    # 20 waves of 2 s, with polling overhead but no serialisation.
    assert 40 <= time.now - 1_000 < 60


def test_running_queries_are_polled_fifty_per_call(time: SimulatedTime) -> None:
    athena = SimulatedAthena(time, limit=120)
    result = run(athena, single(600), concurrency=120)
    assert result.done and athena.max_running == 120
    assert athena.single_calls == 0
    # Every poll round asks about at most 120 queries: three calls of at most 50.
    assert result.status_calls == athena.batch_calls
    assert result.status_calls < 600 / 2
    assert result.start_calls == 600
    assert BATCH_GET_LIMIT == 50


def test_a_query_never_reported_fails_loudly(time: SimulatedTime) -> None:
    athena = SimulatedAthena(time, unprocessed={"q1"})
    with pytest.raises(AthenaQueryFailed, match=rf"did not report on query q1 in {MAX_UNPROCESSED_POLLS}.*InternalServerException"):
        run(athena, single(3))


def test_a_throttled_status_call_is_retried(time: SimulatedTime) -> None:
    class ThrottledOnce(SimulatedAthena):
        throttle = 3

        def batch_get_query_execution(self, QueryExecutionIds: list[str]) -> dict[str, Any]:
            if self.throttle:
                self.throttle -= 1
                raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "BatchGetQueryExecution")
            return super().batch_get_query_execution(QueryExecutionIds)

    athena = ThrottledOnce(time)
    result = run(athena, single(10))
    assert result.done and result.throttled == 3 and len(athena.queries) == 10


def test_throttled_starts_are_retried_not_lost(time: SimulatedTime) -> None:
    athena = SimulatedAthena(time, limit=3)
    result = run(athena, single(30), concurrency=10)
    assert result.done
    assert athena.throttled_starts > 0 and result.throttled == athena.throttled_starts
    for i in range(30):
        assert len(athena.runs(f"CREATE t{i}")) == 1
    assert athena.max_running == 3


def test_a_query_failed_by_throttling_runs_again(time: SimulatedTime) -> None:
    athena = SimulatedAthena(time, failures={"CREATE t3": ["Rate exceeded (Service: AWSGlue; Status Code: 400; Error Code: ThrottlingException)"]})
    result = run(athena, single(5))
    assert result.done and result.throttled == 1
    assert [q.state for q in athena.runs("CREATE t3")] == ["FAILED:Rate exceeded (Service: AWSGlue; Status Code: 400; Error Code: ThrottlingException)", "SUCCEEDED"]


def test_a_query_throttled_every_time_fails_after_bounded_attempts(time: SimulatedTime) -> None:
    athena = SimulatedAthena(time, failures={"CREATE t0": ["Rate exceeded"] * 10})
    with pytest.raises(AthenaQueryFailed, match="Rate exceeded"):
        run(athena, single(2))
    assert len(athena.runs("CREATE t0")) == MAX_QUERY_ATTEMPTS


def test_a_real_failure_names_the_statement_and_reason(time: SimulatedTime) -> None:
    athena = SimulatedAthena(time, failures={"CREATE t1": ["FAILED: ParseException line 1:7 mismatched input 'date'"]})
    with pytest.raises(AthenaQueryFailed) as raised:
        run(athena, single(3))
    message = str(raised.value)
    assert "ParseException line 1:7 mismatched input 'date'" in message
    assert "Statement: CREATE t1" in message
    assert len(athena.runs("CREATE t1")) == 1


def test_stops_before_the_deadline_and_resumes_from_the_cursor(time: SimulatedTime) -> None:
    athena = SimulatedAthena(time)
    units = single(1500)
    deadline = time.now + 60
    first = run(athena, units, deadline=deadline)
    assert not first.done and 0 < first.cursor < 1500
    assert time.now <= deadline
    done_before = set(athena.succeeded())
    assert {f"CREATE t{i}" for i in range(first.cursor)} <= done_before
    starts = 0
    cursor = first.cursor
    while True:
        time.sleep(1)  # the state machine's turn-around
        result = run(athena, units, start=cursor, deadline=time.now + 60)
        starts += 1
        assert result.cursor >= cursor
        cursor = result.cursor
        if result.done:
            break
    assert starts <= 10
    assert set(athena.succeeded()) == {f"CREATE t{i}" for i in range(1500)}
    # Work repeated after a stop is bounded by what was in flight.
    assert len(athena.queries) <= 1500 + 20 * (starts + 1)


def test_later_phases_wait_for_earlier_ones_and_units_run_in_order(time: SimulatedTime) -> None:
    # The runner stays general (the step itself now has one phase of one statement per table).
    athena = SimulatedAthena(time)
    units = [Unit((f"CREATE v{i}",), 0) for i in range(30)] + [Unit((f"A l{i}", f"B l{i}"), 1) for i in range(30)]
    result = run(athena, units, concurrency=7)
    assert result.done and result.statements_succeeded == 90
    last_versioned_end = max(q.ends for q in athena.queries.values() if q.sql.startswith("CREATE v"))
    first_latest_start = min(q.started for q in athena.queries.values() if q.sql.endswith(tuple(f"l{i}" for i in range(30))))
    assert first_latest_start >= last_versioned_end
    for i in range(30):
        (first,), (second,) = athena.runs(f"A l{i}"), athena.runs(f"B l{i}")
        assert second.started >= first.ends


# -- work items in parallel ---------------------------------------------------------------------------


def test_the_query_of_each_completed_unit_is_known(time: SimulatedTime) -> None:
    athena = SimulatedAthena(time)
    result = run(athena, single(3))
    assert result.done and sorted(result.query_ids) == [0, 1, 2]
    assert [athena.queries[result.query_ids[i]].sql for i in range(3)] == ["CREATE t0", "CREATE t1", "CREATE t2"]


def test_items_run_in_parallel_within_the_bound_and_results_come_in_order() -> None:
    in_flight = peak = 0
    lock = threading.Lock()

    def work(item: int) -> int:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        threading.Event().wait(0.005)
        with lock:
            in_flight -= 1
        return item * 10

    result = run_parallel(list(range(40)), 0, work, deadline=clock.now() + 60, workers=4)
    assert result.done and result.cursor == 40 and peak <= 4 and result.max_in_flight == 4
    assert [result.results[i] for i in range(40)] == [i * 10 for i in range(40)]


def test_items_stop_near_the_deadline_and_resume_from_the_cursor(time: SimulatedTime) -> None:
    def work(item: int) -> int:
        time.sleep(1.0)
        return item

    first = run_parallel(list(range(100)), 0, work, deadline=time.now + 30, workers=1)
    assert not first.done and 0 < first.cursor < 100 and time.now <= 1_000 + 30
    second = run_parallel(list(range(100)), first.cursor, work, deadline=time.now + 1_000, workers=1)
    assert second.done and second.cursor == 100 and min(second.results) == first.cursor


def test_an_item_that_fails_fails_the_run_once_the_others_end() -> None:
    done: list[int] = []

    def work(item: int) -> int:
        if item == 3:
            raise ValueError("table 3 is broken")
        done.append(item)
        return item

    with pytest.raises(ValueError, match="table 3"):
        run_parallel(list(range(6)), 0, work, deadline=clock.now() + 60, workers=2)
    assert 3 not in done


def test_workers_must_be_positive() -> None:
    with pytest.raises(ValueError):
        run_parallel([1], 0, lambda item: item, deadline=clock.now() + 60, workers=0)
