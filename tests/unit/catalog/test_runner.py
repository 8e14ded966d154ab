"""The DDL runner against a simulated Athena, and the Glue upserts against a simulated catalog.

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
    MAX_GLUE_ATTEMPTS,
    MAX_QUERY_ATTEMPTS,
    MAX_UNPROCESSED_POLLS,
    Unit,
    run_units,
    upsert_glue_tables,
)
from aurora_lake.catalog import ownership
from aurora_lake.errors import AthenaQueryFailed, AwsServiceError, CatalogTableNotOwned


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


# -- Glue upserts -------------------------------------------------------------------------------


def glue_error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} from the test"}}, operation)


@dataclass
class SimulatedGlue:
    """The Glue Data Catalog's table calls: tables, throttling, races, and calls in flight."""

    time: SimulatedTime
    call_seconds: float = 0.0
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    # table name -> error codes to raise on its next calls, in order
    errors: dict[str, list[str]] = field(default_factory=dict)
    # table name -> created by another writer just before our CreateTable: the same source's
    # table (another run of it), or, in race_foreign, a table of someone else
    race_create: set[str] = field(default_factory=set)
    race_foreign: set[str] = field(default_factory=set)
    calls: list[tuple[str, str]] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _call(self, operation: str, name: str) -> None:
        with self.lock:
            self.calls.append((operation, name))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.call_seconds:
                threading.Event().wait(self.call_seconds)  # real time, so calls overlap
            codes = self.errors.get(name)
            if codes:
                raise glue_error(codes.pop(0), operation)
        finally:
            with self.lock:
                self.in_flight -= 1

    def update_table(self, DatabaseName: str, TableInput: dict[str, Any], SkipArchive: bool) -> dict[str, Any]:
        assert DatabaseName == "lake" and SkipArchive is True
        self._call("UpdateTable", TableInput["Name"])
        if TableInput["Name"] not in self.tables:
            raise glue_error("EntityNotFoundException", "UpdateTable")
        self.tables[TableInput["Name"]] = TableInput
        return {}

    def create_table(self, DatabaseName: str, TableInput: dict[str, Any]) -> dict[str, Any]:
        assert DatabaseName == "lake"
        self._call("CreateTable", TableInput["Name"])
        if TableInput["Name"] in self.race_create:
            self.race_create.discard(TableInput["Name"])
            self.tables[TableInput["Name"]] = {"Name": TableInput["Name"], "Parameters": TableInput.get("Parameters", {})}
        if TableInput["Name"] in self.race_foreign:
            self.race_foreign.discard(TableInput["Name"])
            self.tables[TableInput["Name"]] = {"Name": TableInput["Name"], "Parameters": {"owner": "someone else"}}
        if TableInput["Name"] in self.tables:
            raise glue_error("AlreadyExistsException", "CreateTable")
        self.tables[TableInput["Name"]] = TableInput
        return {}


    def get_table(self, DatabaseName: str, Name: str) -> dict[str, Any]:
        self._call("GetTable", Name)
        if Name not in self.tables:
            raise glue_error("EntityNotFoundException", "GetTable")
        return {"Table": self.tables[Name]}


RECORD = ownership.record("glue:lake s3:b", ownership.Source("123456789012", "cluster", "c"), "db.s.t", ownership.LATEST, "exp-1")


def inputs(n: int, location: str = "s3://b/exp-1/") -> list[dict[str, Any]]:
    return [{"Name": f"t{i}", "StorageDescriptor": {"Location": location}, "Parameters": RECORD} for i in range(n)]


def upsert(glue: SimulatedGlue, tables: list[dict[str, Any]], start: int = 0, deadline: float = 1e12, workers: int = 4) -> Any:
    return upsert_glue_tables(glue, "lake", tables, start, deadline=deadline, workers=workers)


def test_glue_creates_missing_tables_then_updates_them_one_call_each(time: SimulatedTime) -> None:
    glue = SimulatedGlue(time)
    first = upsert(glue, inputs(200), workers=1)
    assert first.done and first.cursor == 200 and first.created == 200 and first.updated == 0
    # Only the first table pays for a guess: the writer tries first what last succeeded.
    assert len(glue.calls) == 201 and first.calls == 201
    glue.calls.clear()
    second = upsert(glue, inputs(200, "s3://b/exp-2/"), workers=1)
    assert second.updated == 200 and second.created == 0 and len(glue.calls) == 200
    assert all(t["StorageDescriptor"]["Location"] == "s3://b/exp-2/" for t in glue.tables.values())
    # A new table among existing ones: one extra call.
    glue.calls.clear()
    third = upsert(glue, inputs(201, "s3://b/exp-3/"), workers=1)
    assert third.updated == 200 and third.created == 1 and len(glue.calls) == 202


def test_glue_writes_run_in_parallel_within_the_bound(time: SimulatedTime) -> None:
    glue = SimulatedGlue(time, call_seconds=0.002)
    result = upsert(glue, inputs(120), workers=6)
    assert result.done and result.created == 120
    assert result.max_in_flight <= 6 and glue.max_in_flight <= 6
    assert glue.max_in_flight > 1
    assert set(glue.tables) == {f"t{i}" for i in range(120)}


def test_glue_races_with_another_writer_end_in_an_update(time: SimulatedTime) -> None:
    glue = SimulatedGlue(time, race_create={"t0"})
    result = upsert(glue, inputs(1), workers=1)
    assert result.done and result.updated == 1
    assert glue.calls == [("UpdateTable", "t0"), ("CreateTable", "t0"), ("GetTable", "t0"), ("UpdateTable", "t0")]
    assert glue.tables["t0"]["StorageDescriptor"]["Location"] == "s3://b/exp-1/"


def test_a_table_of_someone_else_created_in_the_race_is_left_as_it_is(time: SimulatedTime) -> None:
    glue = SimulatedGlue(time, race_foreign={"t0"})
    with pytest.raises(CatalogTableNotOwned, match="t0 was created by someone else"):
        upsert(glue, inputs(1), workers=1)
    assert glue.tables["t0"] == {"Name": "t0", "Parameters": {"owner": "someone else"}}


@pytest.mark.parametrize("code", ["ThrottlingException", "ConcurrentModificationException"])
def test_glue_throttling_is_retried_with_back_off(time: SimulatedTime, code: str) -> None:
    glue = SimulatedGlue(time, tables={"t3": {"Parameters": RECORD}}, errors={"t3": [code] * 3})
    started = time.now
    result = upsert(glue, inputs(10), workers=1)
    assert result.done and result.throttled == 3
    assert glue.tables["t3"]["Name"] == "t3"
    assert time.now - started >= 0.5 + 1 + 2


def test_glue_throttled_every_time_fails_after_bounded_attempts(time: SimulatedTime) -> None:
    glue = SimulatedGlue(time, tables={"t0": {"Parameters": RECORD}}, errors={"t0": ["ThrottlingException"] * 50})
    with pytest.raises(AwsServiceError) as raised:
        upsert(glue, inputs(3), workers=1)
    assert type(raised.value).__name__ == "ThrottlingException"
    assert len([c for c in glue.calls if c[1] == "t0"]) == MAX_GLUE_ATTEMPTS


@pytest.mark.parametrize("code", ["AccessDeniedException", "InvalidInputException", "ResourceNumberLimitExceededException"])
def test_other_glue_errors_fail_loudly_named_after_their_code(time: SimulatedTime, code: str) -> None:
    glue = SimulatedGlue(time, tables={f"t{i}": {} for i in range(20)}, errors={"t5": [code]})
    with pytest.raises(AwsServiceError) as raised:
        upsert(glue, inputs(20), workers=4)
    assert type(raised.value).__name__ == code and "UpdateTable" in str(raised.value)


def test_a_missing_database_fails_loudly(time: SimulatedTime) -> None:
    class NoDatabase(SimulatedGlue):
        def create_table(self, DatabaseName: str, TableInput: dict[str, Any]) -> dict[str, Any]:
            self._call("CreateTable", TableInput["Name"])
            raise glue_error("EntityNotFoundException", "CreateTable")

    glue = NoDatabase(time)
    with pytest.raises(AwsServiceError) as raised:
        upsert(glue, inputs(2), workers=1)
    assert type(raised.value).__name__ == "EntityNotFoundException"
    assert len(glue.calls) == 2


def test_glue_stops_near_the_deadline_and_resumes_from_the_cursor(time: SimulatedTime) -> None:
    class Slow(SimulatedGlue):
        def update_table(self, DatabaseName: str, TableInput: dict[str, Any], SkipArchive: bool) -> dict[str, Any]:
            self.time.sleep(1.0)
            return super().update_table(DatabaseName, TableInput, SkipArchive)

    glue = Slow(time, tables={f"t{i}": {} for i in range(100)})
    first = upsert(glue, inputs(100), deadline=time.now + 30, workers=1)
    assert not first.done and 0 < first.cursor < 100
    assert time.now <= 1_000 + 30
    second = upsert(glue, inputs(100), start=first.cursor, deadline=time.now + 1_000, workers=1)
    assert second.done and second.cursor == 100
    assert all(t["Name"] == f"t{i}" for i, t in enumerate(glue.tables.values()))


def test_glue_throttling_at_the_deadline_leaves_the_table_for_next_time(time: SimulatedTime) -> None:
    glue = SimulatedGlue(time, tables={"t0": {}, "t1": {}}, errors={"t1": ["ThrottlingException"] * 5})
    result = upsert(glue, inputs(2), deadline=time.now + 6, workers=1)
    # Back-offs of 0.5, 1 and 2 s fit; the next one (4 s) would end past the deadline.
    assert not result.done and result.cursor == 1 and result.throttled == 4
    assert time.now == 1_000 + 3.5
